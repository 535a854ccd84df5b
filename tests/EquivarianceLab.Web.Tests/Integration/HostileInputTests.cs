using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EquivarianceLab.Architectures;
using EquivarianceLab.Checkpoints;
using EquivarianceLab.Probes;
using SkiaSharp;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// One app with the real library behind it, small limits configured (4 MiB uploads, probe archives of at most
/// 20 entries, 2 MiB inflated and a 100:1 compression ratio), shared by the hostile-input tests.
/// </summary>
public sealed class HostileFixture : IAsyncLifetime
{
    public string Data { get; } = LabFactory.NewFolder("hostile");
    public string Zoo { get; } = LabFactory.ZooWithFashionMnist();
    public LabFactory Factory { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;

    public Task InitializeAsync()
    {
        Factory = new LabFactory(Data, Zoo, settings: new Dictionary<string, string>
        {
            ["EquivarianceLab:ProbeLimits:MaxEntries"] = "20",
            ["EquivarianceLab:ProbeLimits:MaxUncompressedBytes"] = (2 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["EquivarianceLab:ProbeLimits:MaxCompressionRatio"] = "100",
        });
        Client = Factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
        LabFactory.TryDelete(Data, Zoo);
    }
}

/// <summary>
/// Hostile and broken uploads (issue 5 item 2), each through the real API and the real library: refused with 400 and a
/// clear message naming the user's file, and nothing stored — no file under the data folder, no thumbnail, no
/// database row, nothing left in incoming/. Messages carry no server paths or exception details.
/// </summary>
public sealed class HostileInputTests(HostileFixture lab) : IClassFixture<HostileFixture>
{
    private HttpClient Client => lab.Client;

    // ---- models ----

    [Fact]
    public async Task A_text_file_renamed_onnx_is_refused() =>
        await RefusedAsync("api/models", "notes.onnx", "I am a text file, honest.\n"u8.ToArray(),
            "Not a usable model: notes.onnx is not an ONNX model");

    [Fact]
    public async Task A_truncated_onnx_is_refused()
    {
        var onnx = Onnx.TinyCnn();
        await RefusedAsync("api/models", "cut.onnx", onnx[..(onnx.Length * 2 / 3)], "Not a usable model: cut.onnx");
    }

    [Fact]
    public async Task An_onnx_whose_input_is_not_an_image_batch_is_refused()
    {
        // A linear model on [N, 784]: rank 2, not [N, C, H, W].
        var b = new EquivarianceLab.Tests.TestModels.OnnxGraphBuilder();
        var x = b.Input("x", "N", 784);
        var logits = b.Relu(b.Gemm(x, new float[10 * 784], 10, 784, new float[10], "fc"), "out");
        b.Output(logits, "N", 10);
        var error = await RefusedAsync("api/models", "flat.onnx", b.ToBytes(), "Not a usable model: ");
        Assert.Contains("[N,C,H,W]", error);
    }

    [Fact]
    public async Task A_state_dict_for_another_architecture_is_refused_and_fits_its_own()
    {
        var pt = Path.Combine(lab.Data, "..", $"cnn7-{Guid.NewGuid():N}.pt");
        try
        {
            TorchSharp.torch.manual_seed(1);
            using (var cnn7 = ArchitectureRegistry.Create("cnn7", null)) CheckpointIO.Save(cnn7, pt);
            var bytes = await File.ReadAllBytesAsync(pt);
            var error = await RefusedAsync("api/models", "weights.pt", bytes, "Not a usable model: weights.pt does not fit resnet20: ",
                ("architecture", "resnet20"));
            Assert.Contains("missing keys", error);

            // The very same file uploaded for the architecture it was saved from is kept.
            using var ok = Form("weights.pt", bytes, ("architecture", "cnn7"), ("inputShape", "1,28,28"));
            var created = await Client.PostAsync("api/models", ok);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal("cnn7", (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("architecture").GetString());
        }
        finally
        {
            File.Delete(pt);
        }
    }

    [Fact]
    public async Task An_unknown_architecture_is_refused()
    {
        var error = await RefusedAsync("api/models", "weights.pt", [1, 2, 3], "Not a usable model: ", ("architecture", "resnet9000"));
        Assert.Contains("Unknown architecture 'resnet9000'", error);
    }

    [Fact]
    public async Task An_upload_over_the_size_limit_is_refused_while_streaming_and_nothing_is_kept()
    {
        // No Content-Length (chunked): the limit is enforced on the bytes as they arrive, and the partial file removed.
        var before = Stored();
        using var content = new MultipartFormDataContent { { new StreamContent(new ChunkedZeros(6 << 20)), "file", "big.onnx" } };
        content.Headers.ContentLength = null;
        var r = await Client.PostAsync("api/models", content);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.StatusCode);
        var error = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;
        Assert.Equal("The upload is larger than the limit of 4 MiB.", error);
        Assert.Equal(before, Stored());
    }

    // ---- probe sets ----

    [Theory]
    [InlineData("../evil.png")]
    [InlineData("images/../../evil.png")]
    [InlineData("/etc/evil.png")]
    [InlineData("C:/evil.png")]
    public async Task A_zip_with_an_entry_outside_the_archive_is_refused(string entry)
    {
        var zip = Zip(("ok.png", Png(28, 28)), (entry, Png(28, 28)));
        await RefusedAsync("api/probesets", "slip.zip", zip, $"Not a usable probe set: slip.zip has an unsafe entry name '{entry}'");
    }

    [Fact]
    public async Task A_zip_bomb_entry_is_refused_by_its_compression_ratio()
    {
        // 1 MiB of zeros deflates to about 1 KiB: a ratio near 1000:1, over the configured 100:1.
        var zip = Zip(("ok.png", Png(28, 28)), ("bomb.png", new byte[1 << 20]));
        await RefusedAsync("api/probesets", "bomb.zip", zip, "Not a usable probe set: Entry 'bomb.png' in bomb.zip has a compression ratio over 100:1");
    }

    [Fact]
    public async Task A_zip_inflating_past_the_total_limit_is_refused()
    {
        // Three incompressible 1 MiB entries: 3 MiB declared, over the configured 2 MiB, refused before inflating.
        var random = new Random(5);
        byte[] Noise() { var b = new byte[1 << 20]; random.NextBytes(b); return b; }
        var zip = Zip(("a.png", Noise()), ("b.png", Noise()), ("c.png", Noise()));
        await RefusedAsync("api/probesets", "big.zip", zip, "Not a usable probe set: big.zip declares more than 2097152 bytes of uncompressed data");
    }

    [Fact]
    public async Task A_zip_with_too_many_entries_is_refused()
    {
        var png = Png(28, 28);
        var zip = Zip(Enumerable.Range(0, 21).Select(i => ($"{i:00}.png", png)).ToArray());
        await RefusedAsync("api/probesets", "many.zip", zip, "Not a usable probe set: many.zip has 21 entries; the limit is 20.");
    }

    [Fact]
    public async Task A_zip_with_a_non_image_entry_is_refused()
    {
        var zip = Zip(("a.png", Png(28, 28)), ("readme.txt", "not an image"u8.ToArray()));
        await RefusedAsync("api/probesets", "mixed.zip", zip, "Not a usable probe set: 'readme.txt' in mixed.zip is not a PNG or JPEG image.");
    }

    [Fact]
    public async Task A_zip_of_images_of_different_sizes_is_refused()
    {
        var zip = Zip(("a.png", Png(28, 28)), ("b.png", Png(32, 30)));
        await RefusedAsync("api/probesets", "sizes.zip", zip,
            "Not a usable probe set: Probe images differ in size: 'a.png' in sizes.zip is 28×28 but 'b.png' in sizes.zip is 32×30");
    }

    [Fact]
    public async Task A_zip_of_images_of_one_size_is_kept_with_thumbnails()
    {
        var zip = Zip(Enumerable.Range(0, 5).Select(i => ($"img/{i}.png", Png(40, 30, i))).ToArray());
        using var form = Form("five.zip", zip);
        var r = await Client.PostAsync("api/probesets", form);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Created, body);
        var set = JsonDocument.Parse(body).RootElement;
        Assert.Equal(5, set.GetProperty("count").GetInt32());
        Assert.Equal("3×30×40", set.GetProperty("imageShape").GetString());
        Assert.Equal(5, set.GetProperty("thumbnails").GetInt32());
        var thumb = await Client.GetAsync($"thumbnails/{set.GetProperty("id").GetString()}/4.png");
        Assert.Equal("image/png", thumb.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("<f8", "(2, 1, 4, 4)", "holds float64 data")]
    [InlineData("<i2", "(2, 1, 4, 4)", "holds int16 data")]
    [InlineData("<f4", "(2, 16, 16)", "has shape (2, 16, 16); a probe set must be a rank-4 array [N, C, H, W]")]
    [InlineData("<f4", "(512,)", "has shape (512,); a probe set must be a rank-4 array [N, C, H, W]")]
    public async Task An_npy_of_the_wrong_dtype_or_rank_is_refused(string dtype, string shape, string expected)
    {
        var error = await RefusedAsync("api/probesets", "probe.npy", Npy(dtype, shape, 2 * 16 * 16 * 8), "Not a usable probe set: probe.npy ");
        Assert.Contains(expected, error);
    }

    [Fact]
    public async Task A_float32_npy_is_kept()
    {
        using var form = Form("probe.npy", Npy("<f4", "(3, 1, 8, 8)", 3 * 64 * 4));
        var r = await Client.PostAsync("api/probesets", form);
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        Assert.Equal("1×8×8", (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("imageShape").GetString());
    }

    // ---- helpers ----

    /// <summary>
    /// Uploads, expects a problem whose detail starts with <paramref name="expected"/> — 422 for a file that arrived but
    /// cannot be used, 400 for a request that is wrong in itself — and checks nothing was stored.
    /// </summary>
    private async Task<string> RefusedAsync(string url, string fileName, byte[] content, string expected, params (string Name, string Value)[] fields)
    {
        var before = Stored();
        var models = await Client.GetStringAsync("api/models");
        var probes = await Client.GetStringAsync("api/probesets");
        using var form = Form(fileName, content, fields);
        var r = await Client.PostAsync(url, form);
        var body = await r.Content.ReadAsStringAsync();
        var status = expected.StartsWith("Not a usable", StringComparison.Ordinal) ? HttpStatusCode.UnprocessableEntity : HttpStatusCode.BadRequest;
        Assert.True(r.StatusCode == status, $"{fileName}: {(int)r.StatusCode} {body}");
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString()!;
        Assert.StartsWith(expected, error);
        Leaks.AssertNone(body, $"the refusal of {fileName}");
        Assert.Equal(before, Stored());
        Assert.Equal(models, await Client.GetStringAsync("api/models"));
        Assert.Equal(probes, await Client.GetStringAsync("api/probesets"));
        return error;
    }

    /// <summary>Every file an upload could leave: the store's objects, this node's cached copies, uploads in flight.</summary>
    private string Stored() => DataFolderFiles.Snapshot(lab.Data);

    private static MultipartFormDataContent Form(string fileName, byte[] content, params (string Name, string Value)[] fields)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        var file = new ByteArrayContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", fileName);
        return form;
    }

    internal static byte[] Zip(params (string Name, byte[] Content)[] entries)
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

    internal static byte[] Png(int width, int height, int seed = 0)
    {
        using var bmp = new SKBitmap(width, height);
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
            bmp.SetPixel(x, y, new SKColor((byte)(x * 8 + seed * 40), (byte)(y * 8), (byte)((x + y) * 4)));
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>A .npy (version 1.0) with the given dtype and shape text, followed by <paramref name="dataBytes"/> zero bytes.</summary>
    private static byte[] Npy(string dtype, string shape, int dataBytes)
    {
        var header = $"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}";
        var total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        using var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        ms.Write(BitConverter.GetBytes((ushort)header.Length));
        ms.Write(Encoding.ASCII.GetBytes(header));
        ms.Write(new byte[dataBytes]);
        return ms.ToArray();
    }

    /// <summary>Zeros read in small pieces, so the client sends them chunked without a Content-Length.</summary>
    private sealed class ChunkedZeros(long length) : Stream
    {
        private long _left = length;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(Math.Min(count, 64 * 1024), _left);
            Array.Clear(buffer, offset, n);
            _left -= n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>The tiny ONNX control CNN the integration tests measure.</summary>
internal static class Onnx
{
    /// <summary>Conv-ReLU ×3, global pooling and a linear head on [N, 1, 28, 28].</summary>
    public static byte[] TinyCnn(int seed = 3, int channels = 4)
    {
        var b = new EquivarianceLab.Tests.TestModels.OnnxGraphBuilder();
        var random = new Random(seed);
        float[] W(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var c = channels;
        var x = b.Input("x", "N", 1, 28, 28);
        var r1 = b.Relu(b.Conv(x, W(c * 9), [c, 1, 3, 3], W(c), pads: [1], output: "conv1"), "relu1");
        var r2 = b.Relu(b.Conv(r1, W(c * c * 9), [c, c, 3, 3], W(c), pads: [1], output: "conv2"), "relu2");
        var r3 = b.Relu(b.Conv(r2, W(c * c * 9), [c, c, 3, 3], W(c), pads: [1], output: "conv3"), "relu3");
        var pool = b.GlobalAveragePool(r3, "pool");
        var logits = b.Gemm(b.Flatten(pool, output: "flat"), W(10 * c), 10, c, W(10), "logits");
        b.Output(logits, "N", 10);
        return b.ToBytes();
    }
}

/// <summary>What users may see: results and messages, never file-system paths, exception types or stack traces.</summary>
internal static class Leaks
{
    public static void AssertNone(string text, string what)
    {
        foreach (var bad in new[] { "/tmp", "/work", "Exception", " at " })
            Assert.False(text.Contains(bad, StringComparison.Ordinal), $"{what} contains '{bad}': {text}");
    }
}
