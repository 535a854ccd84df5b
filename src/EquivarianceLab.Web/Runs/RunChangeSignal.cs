using EquivarianceLab.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// On PostgreSQL, every change of a run's state that pages show (claimed, progress, finished, taken back, cancelled)
/// is announced with <c>NOTIFY eqlab_runs, '&lt;run id&gt;'</c> on the connection that wrote it, so every node's
/// <see cref="RunProgressRelay"/> reads that run at once instead of waiting for its next poll. SQLite has no such
/// channel (and one machine): there the relay polls.
/// </summary>
public sealed class RunChangeSignal(LabOptions options)
{
    public const string Channel = "eqlab_runs";

    public bool Enabled { get; } = DataExtensions.IsPostgres(options);

    public void Signal(AppDbContext db, int runId)
    {
        if (!Enabled) return;
        var payload = runId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        db.Database.ExecuteSql($"SELECT pg_notify({Channel}, {payload})");
    }

    public async Task SignalAsync(AppDbContext db, int runId, CancellationToken ct)
    {
        if (!Enabled) return;
        var payload = runId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await db.Database.ExecuteSqlAsync($"SELECT pg_notify({Channel}, {payload})", ct);
    }
}
