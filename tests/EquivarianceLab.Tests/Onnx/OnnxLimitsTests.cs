using System.Diagnostics;
using EquivarianceLab.Cards;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Tests.TestModels;
using Google.Protobuf;
using Onnx;

namespace EquivarianceLab.Tests.Onnx;

/// <summary>
/// Hand-built hostile ONNX files, refused from the parsed protobuf before ONNX Runtime creates a session (so before
/// it allocates anything): oversized inputs, control flow, too many nodes, tensors larger than their data, external
/// data outside the model's folder. And what must keep loading.
/// </summary>
public class OnnxLimitsTests
{
    private static EquivarianceLabException Refused(Func<object> load)
    {
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<EquivarianceLabException>(() => (load() as IDisposable)?.Dispose());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Fact]
    public void A_600_byte_graph_declaring_a_12000_square_input_is_refused_before_onnx_runtime_allocates()
    {
        var b = new OnnxGraphBuilder();
        b.Output(b.Identity(b.Input("x", 1, 1, 12000, 12000)));
        using var dir = new OnnxTempFolder();
        var path = dir.Save(b, "huge-input.onnx");
        Assert.True(new FileInfo(path).Length < 600);

        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        var e = Refused(() => OnnxFeatureModel.Load(path));
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - allocated < 10 << 20, "refusing allocated more than 10 MB");
        Assert.Equal("huge-input.onnx: input 'x' declares [1,1,12000,12000], 144000000 values per image (C×H×W); the limit is 3145728 (3×1024×1024).", e.Message);
    }

    [Fact]
    public void A_free_size_input_is_checked_at_the_size_the_card_or_probe_gives()
    {
        var b = new OnnxGraphBuilder();
        b.Output(b.Relu(b.Input("x", "N", 1, "H", "W")));
        using var dir = new OnnxTempFolder();
        var path = dir.Save(b, "free.onnx");

        var e = Refused(() => OnnxFeatureModel.Load(path, options: new OnnxLoadOptions { ProbeShape = [1, 12000, 12000] }));
        Assert.Equal("free.onnx: an input of [1,12000,12000] is 144000000 values per image (C×H×W); the limit is 3145728 (3×1024×1024).", e.Message);
        Assert.Contains("[1,12000,12000]", Refused(() => ModelLoader.Load(path, probeShape: [1, 12000, 12000])).Message);
        // The limit itself: exactly 3×1024×1024 loads.
        using var atLimit = OnnxFeatureModel.Load(path, options: new OnnxLoadOptions { ProbeShape = [1, 1024, 3072] });
        Assert.Equal([1L, -1, -1], atLimit.InputShape);
    }

    [Fact]
    public void The_input_limit_is_configurable_and_passed_through_the_loaders()
    {
        using var dir = new OnnxTempFolder();
        var path = dir.Save(OnnxTestGraphs.ResidualCnn("N")); // [3,8,8]: 192 values
        var small = new OnnxLimits { MaxInputElements = 191 };
        Assert.Equal("model.onnx: input 'x' declares [?,3,8,8], 192 values per image (C×H×W); the limit is 191.",
            Refused(() => OnnxFeatureModel.Load(path, options: new OnnxLoadOptions { Limits = small })).Message);
        Assert.Contains("the limit is 191", Refused(() => ModelLoader.Load(path, onnxLimits: small)).Message);
        using var ok = ModelLoader.Load(path, onnxLimits: small with { MaxInputElements = 192 });
    }

    [Theory]
    [InlineData("Loop")]
    [InlineData("Scan")]
    [InlineData("If")]
    public void Control_flow_ops_are_refused_naming_the_op_and_the_node(string op)
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", 3, 8, 8);
        var body = new GraphProto { Name = "body" };
        body.Node.Add(new NodeProto { OpType = "Identity", Input = { "v_in" }, Output = { "v_out" } });
        b.Output(b.Node(op, [x], "looped", new AttributeProto { Name = op == "If" ? "then_branch" : "body", Type = AttributeProto.Types.AttributeType.Graph, G = body }));
        using var dir = new OnnxTempFolder();

        var e = Refused(() => OnnxFeatureModel.Load(dir.Save(b)));
        Assert.Equal($"model.onnx uses the control-flow op {op} (node 'looped_node'); EquivarianceLab runs only graphs without control flow " +
                     "(Loop, Scan, If or any op with a subgraph).", e.Message);
    }

    [Fact]
    public void Any_op_carrying_a_subgraph_is_control_flow_and_hostile_names_are_quoted_safely()
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", 3, 8, 8);
        b.Output(b.Node("BeamSearch", [x], "y", new AttributeProto { Name = "decoder", Type = AttributeProto.Types.AttributeType.Graph, G = new GraphProto() }));
        var model = b.Build();
        model.Graph.Node[0].Name = "evil\nnode\u202E";
        using var dir = new OnnxTempFolder();
        var path = dir.File("model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());

        Assert.StartsWith("model.onnx uses the control-flow op BeamSearch (node 'evil?node?');", Refused(() => OnnxFeatureModel.Load(path)).Message);
    }

    [Fact]
    public void Input_names_and_many_inputs_are_quoted_safely()
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x\nFAKE", 1, 784);
        b.Output(b.Relu(x));
        using var dir = new OnnxTempFolder();
        Assert.Equal("model.onnx: input 'x?FAKE' has shape [1,784]; EquivarianceLab needs an image input [N,C,H,W].",
            Refused(() => OnnxFeatureModel.Load(dir.Save(b))).Message);

        var many = new OnnxGraphBuilder();
        var inputs = Enumerable.Range(0, 1000).Select(i => many.Input($"in{i}", "N", 3, 8, 8)).ToList();
        many.Output(many.Concat(1, inputs));
        Assert.Equal("model.onnx: the ONNX graph has 1000 inputs (in0, in1, in2, in3, in4, …); EquivarianceLab needs a single image input [N,C,H,W].",
            Refused(() => OnnxFeatureModel.Load(dir.Save(many))).Message);
    }

    [Fact]
    public void Control_flow_inside_a_local_function_is_refused_too()
    {
        var b = new OnnxGraphBuilder();
        b.Output(b.Node("Wrapped", [b.Input("x", "N", 3, 8, 8)], "y"));
        var model = b.Build();
        model.Graph.Node[0].Domain = "local";
        var function = new FunctionProto { Name = "Wrapped", Domain = "local", Input = { "a" }, Output = { "b" } };
        function.Node.Add(new NodeProto { OpType = "Loop", Name = "inner_loop", Input = { "", "", "a" }, Output = { "b" } });
        model.Functions.Add(function);
        using var dir = new OnnxTempFolder();
        var path = dir.File("model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());

        Assert.Contains("control-flow op Loop (node 'inner_loop')", Refused(() => OnnxFeatureModel.Load(path)).Message);
    }

    [Fact]
    public void Too_many_nodes_are_refused()
    {
        using var dir = new OnnxTempFolder();
        var path = dir.Save(OnnxTestGraphs.ResidualCnn("N"));
        var e = Refused(() => OnnxFeatureModel.Load(path, options: new OnnxLoadOptions { Limits = new OnnxLimits { MaxNodes = 5 } }));
        Assert.Matches(@"^model\.onnx has \d+ nodes; the limit is 5\.$", e.Message);
        Assert.Equal(100_000, OnnxLimits.Default.MaxNodes);
    }

    [Fact]
    public void A_weight_declaring_more_than_the_file_holds_is_refused()
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", 3, 8, 8);
        b.Output(b.Add(x, b.Initializer("w", [1f, 2f], 2)));
        var model = b.Build();
        model.Graph.Initializer[0].Dims.Clear();
        model.Graph.Initializer[0].Dims.AddRange([100_000, 100_000]); // 40 GB of float32, from 8 bytes
        using var dir = new OnnxTempFolder();
        var path = dir.File("model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());

        Assert.Equal("model.onnx: initializer 'w' declares 40000000000 bytes ([100000,100000]) but the file holds at most 16 for it; refusing a tensor larger than its data.",
            Refused(() => OnnxFeatureModel.Load(path)).Message);
    }

    [Fact]
    public void A_constant_node_declaring_more_than_it_holds_is_refused()
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", 3, 8, 8);
        var constant = b.Constant([1f], [1], "c");
        b.Output(b.Add(x, constant));
        var model = b.Build();
        var raw = new TensorProto { Name = "big", DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(new byte[4]) };
        raw.Dims.AddRange([1 << 20, 1 << 10]);
        model.Graph.Node[0].Attribute[0].T = raw;
        using var dir = new OnnxTempFolder();
        var path = dir.File("model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());

        Assert.Equal("model.onnx: attribute 'value' of node 'c_node', tensor 'big' declares 4294967296 bytes ([1048576,1024]) but the file holds at most 4 for it; " +
                     "refusing a tensor larger than its data.", Refused(() => OnnxFeatureModel.Load(path)).Message);
    }

    [Fact]
    public void A_sparse_initializer_expanding_past_the_file_is_refused()
    {
        var b = new OnnxGraphBuilder();
        b.Output(b.Add(b.Input("x", "N", 3, 8, 8), "s"));
        var model = b.Build();
        var values = new TensorProto { Name = "s", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 1 }, FloatData = { 1f } };
        var indices = new TensorProto { Name = "s_indices", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 }, Int64Data = { 0 } };
        model.Graph.SparseInitializer.Add(new SparseTensorProto { Values = values, Indices = indices, Dims = { 100_000, 100_000 } });
        using var dir = new OnnxTempFolder();
        var path = dir.File("model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());

        Assert.StartsWith("model.onnx: sparse initializer 's' expands to 40000000000 bytes ([100000,100000]), more than the whole model file (",
            Refused(() => OnnxFeatureModel.Load(path)).Message);
    }

    /// <summary>The residual CNN with conv1's weight moved to <paramref name="location"/> (written there unless null).</summary>
    private static string ExternalWeights(OnnxTempFolder dir, string location, bool write = true, long? claimedLength = null)
    {
        var model = OnnxTestGraphs.ResidualCnn("N").Build();
        var weight = model.Graph.Initializer.First(t => t.Name == "conv1.weight");
        var bytes = weight.FloatData.SelectMany(BitConverter.GetBytes).ToArray();
        if (write) File.WriteAllBytes(dir.File(location), bytes);
        weight.FloatData.Clear();
        weight.DataLocation = TensorProto.Types.DataLocation.External;
        weight.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        weight.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        weight.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = (claimedLength ?? bytes.Length).ToString() });
        var path = dir.File("external.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    [Fact]
    public void External_data_beside_the_model_still_loads_and_computes_the_same()
    {
        using var dir = new OnnxTempFolder();
        var inline = dir.Save(OnnxTestGraphs.ResidualCnn("N"), "inline.onnx");
        var external = ExternalWeights(dir, "conv1.bin");
        using var a = OnnxFeatureModel.Load(inline);
        using var b = OnnxFeatureModel.Load(external);
        using var images = OnnxTestGraphs.Images(2, 3, 8, 8);
        using var fa = new Features(a.Forward(images));
        using var fb = new Features(b.Forward(images));
        Assert.Equal(OnnxTestGraphs.Values(fa[^1]), OnnxTestGraphs.Values(fb[^1]));

        Assert.Equal("external.onnx: initializer 'conv1.weight' keeps its data in a separate file, which is not allowed here; save the model as one file " +
                     "(onnx.save_model(model, path, save_as_external_data=False)).",
            Refused(() => OnnxFeatureModel.Load(external, options: new OnnxLoadOptions { Limits = new OnnxLimits { AllowExternalData = false } })).Message);
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("sub/../../secret.bin")]
    public void External_data_outside_the_models_folder_is_refused(string location)
    {
        using var dir = new OnnxTempFolder();
        var path = ExternalWeights(dir, location, write: false);
        Assert.Equal($"external.onnx: initializer 'conv1.weight' names external data '{location}' outside the model's folder; refusing it.",
            Refused(() => OnnxFeatureModel.Load(path)).Message);
    }

    [Fact]
    public void External_data_shorter_than_it_claims_or_than_the_tensor_is_refused()
    {
        using var dir = new OnnxTempFolder();
        var claims = ExternalWeights(dir, "conv1.bin", claimedLength: 1L << 40);
        Assert.Equal("external.onnx: initializer 'conv1.weight' claims 1099511627776 bytes at offset 0 of its external data file, which holds 432 there.",
            Refused(() => OnnxFeatureModel.Load(claims)).Message);
        var shortFile = ExternalWeights(dir, "conv1.bin", claimedLength: 100);
        Assert.Equal("external.onnx: initializer 'conv1.weight' declares 432 bytes ([4,3,3,3]) but its external data holds 100.",
            Refused(() => OnnxFeatureModel.Load(shortFile)).Message);
        var missing = ExternalWeights(dir, "gone.bin", write: false);
        Assert.Contains("keeps its data in 'gone.bin', which is not beside the model", Refused(() => OnnxFeatureModel.Load(missing)).Message);
    }

    [Fact]
    public void The_zoos_onnx_models_have_no_control_flow_and_pass_the_checks()
    {
        var models = Path.Combine(OnnxTestGraphs.RepositoryRoot(), "models");
        var onnx = Directory.GetDirectories(models)
            .Select(folder => Path.Combine(folder, "card.json"))
            .Where(File.Exists)
            .Select(ModelCard.Load)
            .Where(card => card.Format == "onnx")
            .ToList();
        Assert.NotEmpty(onnx);
        foreach (var card in onnx)
        {
            var path = Path.Combine(models, card.Id, card.File);
            var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            var ops = model.Graph.Node.Select(n => n.OpType).Concat(model.Functions.SelectMany(f => f.Node.Select(n => n.OpType))).ToHashSet();
            Assert.DoesNotContain("Loop", ops);
            Assert.DoesNotContain("Scan", ops);
            Assert.DoesNotContain("If", ops);
            Assert.DoesNotContain(model.Graph.Node, n => n.Attribute.Any(a => a.G is not null || a.Graphs.Count > 0));
            using var loaded = ModelLoader.Load(Path.Combine(models, card.Id)); // and the default limits admit it
            Assert.NotEmpty(loaded.Layers);
        }
    }
}
