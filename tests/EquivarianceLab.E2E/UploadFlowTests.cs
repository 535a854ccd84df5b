using System.IO.Compression;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.E2E.Infrastructure;
using Microsoft.Playwright;

namespace EquivarianceLab.E2E;

/// <summary>
/// Uploads in the browser: a valid ONNX model is kept and measured; a truncated one and a text file renamed .onnx are
/// refused with a clear message; an image archive is kept with thumbnails; a zip with a "../" entry is refused.
/// Refused files leave nothing behind: no stored file, no thumbnail, no database row.
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed class UploadFlowTests(DashboardFixture lab)
{
    [Fact]
    public async Task Model_uploads_keep_a_valid_onnx_and_refuse_broken_files_with_a_clear_message()
    {
        await using var context = await lab.NewContextAsync();
        var page = await context.NewPageAsync();
        await FailureArtifacts.RunAsync(page, "model-uploads", async () =>
        {
            var onnx = TestZoo.TinyCnn(seed: 11);
            await page.OpenAsync("models");
            await page.GetByLabel("Name (optional)").FillAsync("My uploaded CNN");
            await UploadAsync(page, "model-upload", "mine.onnx", onnx);
            await page.WaitForURLAsync(u => u.Contains("models?id=upload-", StringComparison.Ordinal), new() { Timeout = 60_000 });
            var card = page.Locator("[data-testid=model-card]");
            await Assertions.Expect(card).ToContainTextAsync("My uploaded CNN");
            await Assertions.Expect(card).ToContainTextAsync("1×28×28");
            await Assertions.Expect(card).ToContainTextAsync("Uploaded as 'mine.onnx'");
            await page.ShotAsync("20-model-uploaded");
            var id = page.Url[(page.Url.IndexOf("id=", StringComparison.Ordinal) + 3)..];
            var before = await StoredAsync();

            // The upload is measured like any zoo model.
            var run = await lab.Api.QueueAsync(id, images: 8);
            Assert.Equal("done", (await lab.Api.WaitForRunAsync(run, TimeSpan.FromMinutes(1))).GetProperty("status").GetString());

            // A truncated copy and a text file named .onnx: refused, the page says why, nothing is kept.
            await UploadAsync(page, "model-upload", "mine-cut.onnx", onnx[..(onnx.Length / 2)]);
            var error = page.Locator("[data-testid=upload-error]");
            await Assertions.Expect(error).ToContainTextAsync("Not a usable model: mine-cut.onnx", new() { Timeout = 60_000 });
            LabApi.AssertNoLeak(await error.InnerTextAsync(), "the truncated-upload message");
            await page.ShotAsync("21-model-upload-truncated");

            await UploadAsync(page, "model-upload", "notes.onnx", "These are my notes, not a model.\n"u8.ToArray());
            await Assertions.Expect(error).ToContainTextAsync("Not a usable model: notes.onnx is not an ONNX model", new() { Timeout = 60_000 });
            LabApi.AssertNoLeak(await error.InnerTextAsync(), "the text-file message");
            await page.ShotAsync("22-model-upload-text-file");
            Assert.Equal(before, await StoredAsync());
        });
    }

    [Fact]
    public async Task Probe_set_uploads_keep_an_image_archive_and_refuse_a_zip_slip_archive()
    {
        await using var context = await lab.NewContextAsync();
        var page = await context.NewPageAsync();
        await FailureArtifacts.RunAsync(page, "probe-uploads", async () =>
        {
            // 12 PNGs of one size (the built-in set's thumbnails, made by the server at start).
            var pngs = new List<byte[]>();
            for (var i = 0; i < 12; i++) pngs.Add(await lab.Api.GetByteArrayAsync($"thumbnails/fashion-mnist-test/{i}.png"));
            var good = Zip(pngs.Select((png, i) => ($"clothes/{i:00}.png", png)));
            await page.OpenAsync("probesets");
            await page.GetByLabel("Name (optional)").FillAsync("Twelve garments");
            await UploadAsync(page, "probe-upload", "garments.zip", good);
            await page.WaitForURLAsync(u => u.Contains("probesets?id=upload-", StringComparison.Ordinal), new() { Timeout = 60_000 });
            var set = page.Locator("[data-testid=probe-card]", new() { HasText = "Twelve garments" });
            await Assertions.Expect(set).ToContainTextAsync("12 images");
            await Assertions.Expect(set.Locator("[data-testid=thumbnails] img")).ToHaveCountAsync(12);
            await page.ShotAsync("23-probe-set-uploaded");
            var before = await StoredAsync();

            // Zip slip: an entry named ../evil.png is refused before anything is extracted or kept.
            var slip = Zip([("ok.png", pngs[0]), ("../evil.png", pngs[1])]);
            await UploadAsync(page, "probe-upload", "slip.zip", slip);
            var error = page.Locator("[data-testid=upload-error]");
            await Assertions.Expect(error).ToContainTextAsync("Not a usable probe set: slip.zip has an unsafe entry name '../evil.png'", new() { Timeout = 60_000 });
            LabApi.AssertNoLeak(await error.InnerTextAsync(), "the zip-slip message");
            await page.ShotAsync("24-probe-upload-zip-slip");
            Assert.Equal(before, await StoredAsync());
            Assert.False(File.Exists(Path.Combine(lab.DataFolder, "evil.png")));
        });
    }

    private static async Task UploadAsync(IPage page, string testId, string fileName, byte[] content)
    {
        await page.Locator($"[data-testid={testId}-input]").SetInputFilesAsync(new FilePayload { Name = fileName, MimeType = "application/octet-stream", Buffer = content });
        var button = page.Locator($"[data-testid={testId}-button]");
        await Assertions.Expect(button).ToBeEnabledAsync();
        await button.ClickAsync();
    }

    /// <summary>Everything an upload could leave behind: stored files (thumbnails among them), files in flight and the API's lists.</summary>
    private async Task<string> StoredAsync()
    {
        var models = await lab.Api.GetFromJsonAsync<JsonElement>("api/models");
        var probes = await lab.Api.GetFromJsonAsync<JsonElement>("api/probesets");
        return string.Join("\n", DataFolderFiles.Snapshot(lab.DataFolder),
            string.Join(",", models.EnumerateArray().Select(m => m.GetProperty("id").GetString())),
            string.Join(",", probes.EnumerateArray().Select(m => m.GetProperty("id").GetString())));
    }

    internal static byte[] Zip(IEnumerable<(string Name, byte[] Content)> entries)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, content) in entries)
            {
                using var s = zip.CreateEntry(name, CompressionLevel.Optimal).Open();
                s.Write(content);
            }
        }
        return ms.ToArray();
    }
}
