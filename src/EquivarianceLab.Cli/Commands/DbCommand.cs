using System.CommandLine;
using EquivarianceLab.Web.Data;

namespace EquivarianceLab.Cli.Commands;

/// <summary><c>eqlab db migrate</c>: brings the dashboard server's database to the committed schema.</summary>
public static class DbCommand
{
    public static Command Create()
    {
        var migrate = new Command("migrate",
            "Apply the dashboard's committed migrations to the server's database (read from the server's settings), under the start-up lock " +
            "that lets several nodes start at once. Nodes also migrate at start unless EquivarianceLab:MigrateAtStart is false.");
        migrate.SetAction(async (_, ct) =>
        {
            var applied = await DatabaseAdministration.MigrateAsync(ct);
            Console.Out.WriteLine(applied.Count == 0
                ? "The database is up to date."
                : $"Applied {applied.Count} migration(s): {string.Join(", ", applied)}.");
            return 0;
        });
        return new Command("db", "The dashboard server's database.") { migrate };
    }
}
