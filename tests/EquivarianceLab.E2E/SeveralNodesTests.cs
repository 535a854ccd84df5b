using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.E2E.Infrastructure;
using Microsoft.Playwright;

namespace EquivarianceLab.E2E;

/// <summary>
/// Issue 13, start-up: nodes of one lab share a PostgreSQL database (a real server of the tests' own) and start as
/// separate processes with their own data folders. Three started at once on an empty database and an empty S3 bucket
/// all come up, with the zoo registered once; <c>eqlab db migrate</c> run twice at once applies the migrations once; a node told not to
/// migrate refuses an unmigrated database, saying what to run, and starts on a migrated one.
/// </summary>
public sealed class SeveralNodesTests : IClassFixture<PostgresServer>, IClassFixture<S3Server>, IDisposable
{
    private readonly PostgresServer _postgres;
    private readonly S3Server _s3;
    private readonly TestZoo _zoo = new();
    private readonly List<string> _folders = [];

    public SeveralNodesTests(PostgresServer postgres, S3Server s3)
    {
        _postgres = postgres;
        _s3 = s3;
        _zoo.AddTinyCnn("tiny-a", "Tiny CNN A", 71.5, seed: 1);
        _zoo.AddTinyCnn("tiny-b", "Tiny CNN B", 83.0, seed: 2);
    }

    public void Dispose()
    {
        foreach (var f in _folders) Repo.TryDelete(f);
        _zoo.Dispose();
    }

    [Fact]
    public async Task Three_nodes_started_at_once_on_an_empty_database_all_come_up_with_the_zoo_registered_once()
    {
        // The store is an empty S3 bucket too: all three put the zoo's files in it at once.
        var settings = new Dictionary<string, string>(Settings(PostgresServer.NewDatabaseName("three")))
        {
            ["EquivarianceLab:Storage:Kind"] = "S3",
            ["EquivarianceLab:Storage:S3:ServiceUrl"] = _s3.ServiceUrl,
            ["EquivarianceLab:Storage:S3:Bucket"] = _s3.NewBucketName("three"),
            ["EquivarianceLab:Storage:S3:AccessKey"] = _s3.AccessKey,
            ["EquivarianceLab:Storage:S3:SecretKey"] = _s3.SecretKey,
        };
        var starting = Enumerable.Range(1, 3).Select(i => LabServer.StartAsync($"node{i}", Folder($"node{i}"), _zoo.Folder, settings)).ToList();
        var nodes = new List<LabServer>();
        try
        {
            foreach (var s in starting) nodes.Add(await s);
            foreach (var node in nodes)
            {
                using var client = node.CreateClient();
                using var ready = await client.GetAsync("health/ready");
                Assert.True(ready.StatusCode == HttpStatusCode.OK, $"{node.Name}: {await ready.Content.ReadAsStringAsync()}");
                var models = await client.GetFromJsonAsync<JsonElement>("api/models");
                var ids = models.EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToList();
                Assert.Equal(["tiny-a", "tiny-b"], ids.Order(StringComparer.Ordinal));
            }
            // Shared for real: a run queued on one node is seen (and can be measured) through another.
            using var first = nodes[0].CreateClient();
            using var third = nodes[2].CreateClient();
            var run = await first.QueueAsync("tiny-a", images: 8);
            Assert.Equal("done", (await third.WaitForRunAsync(run, TimeSpan.FromMinutes(2))).GetProperty("status").GetString());
        }
        finally
        {
            // Every node that came up is stopped, also when another failed to start.
            foreach (var s in starting)
            {
                try { await (await s).DisposeAsync(); }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException) { }
            }
        }
    }

    [Fact]
    public async Task Eqlab_db_migrate_twice_at_once_migrates_once_and_a_node_that_does_not_migrate_needs_it()
    {
        var database = PostgresServer.NewDatabaseName("migrate");
        var settings = Settings(database);

        // A node that must not migrate refuses the empty database, naming the command that fixes it.
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            LabServer.StartAsync("no-migrate-early", Folder("early"), _zoo.Folder, new Dictionary<string, string>(settings) { ["EquivarianceLab:MigrateAtStart"] = "false" }));
        Assert.Contains("eqlab db migrate", refused.Message);

        var outputs = await Task.WhenAll(MigrateAsync(database), MigrateAsync(database));
        Assert.Single(outputs, o => o.StartsWith("Applied ", StringComparison.Ordinal));
        Assert.Single(outputs, o => o.StartsWith("The database is up to date.", StringComparison.Ordinal));
        Assert.StartsWith("The database is up to date.", await MigrateAsync(database));

        await using var node = await LabServer.StartAsync("no-migrate", Folder("late"), _zoo.Folder,
            new Dictionary<string, string>(settings) { ["EquivarianceLab:MigrateAtStart"] = "false" });
        using var client = node.CreateClient();
        Assert.Equal(2, (await client.GetFromJsonAsync<JsonElement>("api/models")).GetArrayLength());
    }

    /// <summary>
    /// A UI node without a job server and a worker node: a run queued on the UI node is measured by the worker, and its
    /// page on the UI node, opened before the worker got to it, shows progress moving (as the worker announces it) and
    /// then the result without a reload.
    /// </summary>
    [Fact]
    public async Task The_run_page_on_a_ui_node_shows_live_progress_of_a_run_on_a_worker_node()
    {
        var settings = Settings(PostgresServer.NewDatabaseName("progress"));
        _zoo.AddTinyCnn("wide-d", "Wide CNN D", 77.7, seed: 4, channels: 64);
        await using var ui = await LabServer.StartAsync("ui-node", Folder("ui"), _zoo.Folder,
            new Dictionary<string, string>(settings) { ["EquivarianceLab:Role"] = "Ui" });
        using var api = ui.CreateClient();
        var (playwright, browser) = await Chromium.LaunchAsync();
        try
        {
            await using var context = await Chromium.NewContextAsync(browser, ui.BaseUri);
            var page = await context.NewPageAsync();
            // Queued on the UI node, where nothing will run it until the worker node is up.
            var run = await api.QueueAsync("wide-d", images: 1000);
            await page.OpenAsync($"runs/{run}");
            await Assertions.Expect(page.GetByText("Waiting for the worker…")).ToBeVisibleAsync();

            await using var worker = await LabServer.StartAsync("worker-node", Folder("worker"), _zoo.Folder, settings);
            // When each progress value first reached the database (read through the UI node's API), and what the page showed when.
            var written = new Dictionary<int, DateTime>();
            var shown = new List<(DateTime At, int Value)>();
            var done = page.Locator("[data-status=done]");
            var until = DateTime.UtcNow.AddMinutes(3);
            while (await done.CountAsync() == 0 && DateTime.UtcNow < until)
            {
                var now = DateTime.UtcNow;
                written.TryAdd((await api.RunAsync(run)).GetProperty("imagesDone").GetInt32(), now);
                // All texts at once, which does not wait: the progress line goes away when the run finishes, and a
                // locator's TextContentAsync would then wait 30 s for it to come back.
                var progress = await page.GetByText(new System.Text.RegularExpressions.Regex(@"^\d+ / 1000 images")).AllTextContentsAsync();
                if (progress.Count > 0
                    && int.TryParse(progress[0].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out var value))
                    shown.Add((DateTime.UtcNow, value));
                await Task.Delay(100);
            }
            await page.ShotAsync("30-ui-node-progress-done");
            Assert.True(await done.CountAsync() > 0, "the page on the UI node never showed the run done");
            // The worker announces each progress write (LISTEN/NOTIFY): within 2 s of a write the page shows it (or a later
            // one), where polling alone (every 5 s on PostgreSQL) would leave it behind for up to 5 s.
            var lags = written.Where(w => w.Key > 0 && shown.Any(s => s.Value >= w.Key))
                .Select(w => (shown.First(s => s.Value >= w.Key).At - w.Value).TotalSeconds).ToList();
            var lagText = string.Join(", ", lags.Select(l => l.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)));
            Assert.True(lags.Count >= 2, $"the page showed {shown.Select(s => s.Value).Distinct().Count()} progress value(s)");
            Assert.True(lags.Max() < 2, $"the page on the UI node showed progress this many seconds after it was written: {lagText}");
            Assert.Equal("done", (await api.RunAsync(run)).GetProperty("status").GetString());
        }
        finally
        {
            await browser.DisposeAsync();
            playwright.Dispose();
        }
    }

    private Dictionary<string, string> Settings(string database) => new()
    {
        ["EquivarianceLab:Database"] = "PostgreSql",
        ["ConnectionStrings:App"] = _postgres.ConnectionString(database),
        ["ConnectionStrings:Hangfire"] = _postgres.ConnectionString(database),
    };

    private string Folder(string name)
    {
        var f = Repo.NewTempFolder(name);
        _folders.Add(f);
        return f;
    }

    /// <summary><c>eqlab db migrate</c> as its own process, with the server's settings in the environment; the last line it printed.</summary>
    private async Task<string> MigrateAsync(string database)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repo.Root };
        foreach (var a in new[] { Repo.EqlabDll, "db", "migrate" }) info.ArgumentList.Add(a);
        info.Environment["EquivarianceLab__DataFolder"] = Folder("cli");
        info.Environment["EquivarianceLab__Database"] = "PostgreSql";
        info.Environment["ConnectionStrings__App"] = _postgres.ConnectionString(database);
        info.Environment["ConnectionStrings__Hangfire"] = _postgres.ConnectionString(database);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"eqlab db migrate failed ({process.ExitCode}): {error}");
        return (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
    }
}
