using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EquivarianceLab.Tests.Probes;
using EquivarianceLab.Tests.TestModels;
using Onnx;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// The hostile uploads through the real API, the real worker process and the real library: each is refused
/// (4xx) within the validation budget, the web process grows by less than 500 MB, nothing is kept, and the server
/// still answers.
/// </summary>
[Collection(WorkerProcessCollection.Name)]
public sealed class HostileUploadTests
{
    [Fact]
    public async Task Hostile_uploads_are_refused_within_the_budget_and_the_server_carries_on()
    {
        var data = LabFactory.NewFolder("hostile-uploads");
        var zoo = LabFactory.ZooWithFashionMnist();
        try
        {
            await using var factory = new LabFactory(data, zoo, settings: new Dictionary<string, string>
            {
                ["EquivarianceLab:MaxUploadBytes"] = (16 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture),
            });
            using var client = factory.CreateClient();
            await client.GetAsync("/api/models");
            var me = Process.GetCurrentProcess();
            var before = me.WorkingSet64;

            await RefusedAsync(client, "/api/probesets", "deep.npy", DeepNpy(20_000), "nests deeper than 32 levels");
            await RefusedAsync(client, "/api/models", "huge-input.onnx", HugeInput(), "the limit is 3145728");
            await RefusedAsync(client, "/api/models", "loop.onnx", Loop(), "control-flow op Loop");
            await RefusedAsync(client, "/api/probesets", "tiles.zip", TileBomb(), "10000×10000");

            me.Refresh();
            Assert.True(me.WorkingSet64 - before < 500L << 20, $"the web process grew by {(me.WorkingSet64 - before) >> 20} MiB");
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/models")).StatusCode);
            Assert.Empty(DataFolderFiles.StoredUploads(data));
            Assert.Empty(DataFolderFiles.Partial(data));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(data, "incoming")));
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    private static async Task RefusedAsync(HttpClient client, string url, string fileName, byte[] content, string expected)
    {
        using var form = new MultipartFormDataContent { { new ByteArrayContent(content), "file", fileName } };
        var clock = Stopwatch.StartNew();
        var response = await client.PostAsync(url, form);
        var detail = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{fileName}: {response.StatusCode} {detail}");
        Assert.Contains(expected, detail);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{fileName} took {clock.Elapsed.TotalSeconds:0} s");
        Leaks.AssertNone(detail, $"the answer to {fileName}");
    }

    /// <summary>A .npy whose header's shape is a tuple nested <paramref name="depth"/> deep (about 2 bytes per level).</summary>
    private static byte[] DeepNpy(int depth)
    {
        var dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + new string('(', depth) + new string(')', depth) + ", }";
        using var ms = new MemoryStream();
        var path = Path.GetTempFileName();
        try
        {
            NpyTestFiles.WriteRaw(path, 2, dict, []);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A few hundred bytes of ONNX declaring one 1×12000×12000 input image.</summary>
    private static byte[] HugeInput()
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", 1, 1, 12000, 12000);
        b.Output(b.Identity(x, "y"), 1, 1, 12000, 12000);
        return b.ToBytes();
    }

    private static byte[] Loop()
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", 1, 28, 28);
        var body = new GraphProto { Name = "body" };
        body.Node.Add(new NodeProto { OpType = "Identity", Input = { "v_in" }, Output = { "v_out" } });
        b.Output(b.Node("Loop", [x], "looped", new AttributeProto { Name = "body", Type = AttributeProto.Types.AttributeType.Graph, G = body }), "N", 1, 28, 28);
        return b.ToBytes();
    }

    /// <summary>1,000 black 10000×10000 PNGs in a zip of a few hundred KB.</summary>
    private static byte[] TileBomb()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tiles-{Guid.NewGuid():N}.zip");
        try
        {
            HostileFiles.ZipOfCopies(path, HostileFiles.BlackPng(10_000, 10_000), 1000);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
