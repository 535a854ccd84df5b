using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Measure;
using EquivarianceLab.Tests.Measure;

namespace EquivarianceLab.Tests.Cli;

/// <summary>
/// The real <c>eqlab</c> as a user runs it (issue 2 items 7–9): the exact command line, result.json and CSV, the part
/// table and progress, --list-layers, every bad input of item 8, the built-in rotation control and bench.
/// </summary>
public sealed partial class EqlabCommandLineTests(EqlabFixture fixture) : IClassFixture<EqlabFixture>
{
    private const double Tolerance = 1e-4;

    // ---- the happy path: ONNX graph + .npy probe, translation, --layers, --out, --csv ----

    [Fact]
    public void Measure_exits_0_with_the_part_table_on_stdout_and_progress_on_stderr()
    {
        var run = fixture.Happy;
        Assert.True(run.ExitCode == 0, run.ToString());

        var stdout = run.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains(stdout, l => Regex.IsMatch(l, @"^part\s+layers\s+invariance\s+equivariance\s*$"));
        using var json = JsonDocument.Parse(System.IO.File.ReadAllText(fixture.File("r.json")));
        var parts = json.RootElement.GetProperty("parts");
        var printed = stdout.Where(l => Regex.IsMatch(l, @"^(Early|Middle|Late|Pool|Final)\s")).ToList();
        Assert.Equal(["Early", "Middle", "Pool"], printed.Select(l => l.Split(' ')[0]));
        foreach (var line in printed)
        {
            // "Early  2  0.6213 ± 0.0104  0.8100 ± 0.0050": the ± is the 95% interval's half-width.
            var cells = Regex.Match(line, @"^(\w+)\s+(\d+)\s+(\S+) ± (\S+)\s+(\S+) ± (\S+)$");
            Assert.True(cells.Success, line);
            var part = parts.GetProperty(cells.Groups[1].Value);
            Assert.Equal(part.GetProperty("layers").GetInt32().ToString(CultureInfo.InvariantCulture), cells.Groups[2].Value);
            foreach (var (score, at) in new[] { ("invariance", 3), ("equivariance", 5) })
            {
                double value = part.GetProperty(score).GetDouble();
                var interval = part.GetProperty(score + "Interval").EnumerateArray().Select(e => e.GetDouble()).ToArray();
                double half = Math.Max(value - interval[0], interval[1] - value);
                Assert.Equal(value.ToString("0.0000", CultureInfo.InvariantCulture), cells.Groups[at].Value);
                Assert.Equal(half.ToString("0.0000", CultureInfo.InvariantCulture), cells.Groups[at + 1].Value);
            }
        }
        Assert.Contains("± is the half-width of the 95% interval over probe images.", stdout);

        // Progress (images done of the total) goes to stderr, not stdout.
        Assert.Contains($"{EqlabFixture.HappyImages}/{EqlabFixture.HappyImages} images", run.Stderr);
        Assert.DoesNotContain("images  ", run.Stdout);

        // Nothing is lost at exit, which skips the native libraries' teardown (QuickExit): each stream ends with the
        // line the command writes last, and the stderr line's peak memory is there.
        Assert.Equal("± is the half-width of the 95% interval over probe images.", stdout.Last(l => l.Length > 0));
        Assert.Matches(@"^measured 3 layers on 5 images in \d+\.\d\d s \(.*\); peak memory \d+\.\d MiB$", run.StderrLines[^1]);
    }

    [Fact]
    public void Result_json_has_exactly_the_documented_fields_with_layers_in_the_order_given()
    {
        Assert.True(fixture.Happy.ExitCode == 0, fixture.Happy.ToString());
        using var json = JsonDocument.Parse(System.IO.File.ReadAllText(fixture.File("r.json")));
        var root = json.RootElement;

        Assert.Equal(["model", "probe", "transform", "similarity", "images", "maxShift", "layers", "parts", "timing"], Keys(root));
        Assert.Equal("model.onnx", Path.GetFileName(root.GetProperty("model").GetString()));
        Assert.Equal("probe.npy", Path.GetFileName(root.GetProperty("probe").GetString()));
        Assert.Equal("translation", root.GetProperty("transform").GetString());
        Assert.Equal("pearson", root.GetProperty("similarity").GetString());
        Assert.Equal(EqlabFixture.HappyImages, root.GetProperty("images").GetInt32());
        Assert.Equal(EqlabFixture.HappyMaxShift, root.GetProperty("maxShift").GetInt32());

        var layers = root.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(EqlabFixture.HappyLayers, layers.Select(l => l.GetProperty("name").GetString()));
        string?[] expectedParts = ["Early", "Middle", "Pool"];
        long[][] expectedShapes = [[4, 8, 8], [6, 4, 4], [6, 1, 1]];
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            Assert.Equal(["name", "index", "part", "shape", "invariance", "equivariance", .. Uncertainty, "perTransform", "matching"], Keys(layer));
            Assert.Equal(i, layer.GetProperty("index").GetInt32());
            Assert.Equal(expectedParts[i], layer.GetProperty("part").GetString());
            Assert.Equal(expectedShapes[i], layer.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
            Assert.Equal(JsonValueKind.Number, layer.GetProperty("invariance").ValueKind);
            Assert.Equal(JsonValueKind.Number, layer.GetProperty("equivariance").ValueKind);
            var per = layer.GetProperty("perTransform");
            Assert.Equal(["shift1", "shift2", "shift3"], Keys(per));
            foreach (var score in per.EnumerateObject())
            {
                Assert.Equal(["invariance", "equivariance", .. Uncertainty], Keys(score.Value));
                Assert.True(score.Value.GetProperty("equivariance").GetDouble() >= score.Value.GetProperty("invariance").GetDouble() - 1e-9);
            }
            var matching = layer.GetProperty("matching");
            Assert.Equal(["shift1", "shift2", "shift3"], Keys(matching));
            foreach (var m in matching.EnumerateObject())
            {
                Assert.Equal(["decisions", "matchedChannels", "ownIndexShare", "distinctShare", "match", "matchShare", "equivariance", "invariance",
                    "partners", "partnerCounts"], Keys(m.Value));
                var matched = MeasurementResult.FromJson(System.IO.File.ReadAllText(fixture.File("r.json"))).Layers[i].Matching![m.Name];
                Assert.Equal(expectedShapes[i][0], matched.Channels);
                // Spatial layers decide per image; a vector layer once over all images.
                int decisions = expectedShapes[i].Length == 3 && expectedShapes[i][1] * expectedShapes[i][2] > 1 ? EqlabFixture.HappyImages : 1;
                Assert.Equal(decisions, matched.Decisions);
                foreach (var c in matched.Rows().Where(c => c.Match is not null))
                {
                    Assert.InRange(c.MatchShare!.Value, 1f / decisions - 1e-4f, 1f);
                    Assert.InRange(c.Equivariance!.Value, -1f, 1f);
                    Assert.Equal(c.Match, c.Partners[0]);
                    Assert.InRange(c.PartnerCounts.Sum(), 1, decisions);
                }
            }
        }

        var parts = root.GetProperty("parts");
        Assert.Equal(["Early", "Middle", "Pool"], Keys(parts));
        foreach (var part in parts.EnumerateObject())
        {
            Assert.Equal(["invariance", "equivariance", "layers", .. Uncertainty], Keys(part.Value));
            Assert.Equal(1, part.Value.GetProperty("layers").GetInt32());
        }

        var timing = root.GetProperty("timing");
        Assert.Equal(["seconds", "forwardSeconds"], Keys(timing));
        double seconds = timing.GetProperty("seconds").GetDouble(), forward = timing.GetProperty("forwardSeconds").GetDouble();
        Assert.True(seconds > 0 && forward > 0 && forward <= seconds, $"timing: seconds {seconds}, forwardSeconds {forward}");
    }

    [Fact]
    public void Result_json_numbers_equal_the_naive_reference()
    {
        Assert.True(fixture.Happy.ExitCode == 0, fixture.Happy.ToString());
        using var json = JsonDocument.Parse(System.IO.File.ReadAllText(fixture.File("r.json")));
        using var model = OnnxFeatureModel.Load(fixture.Model, EqlabFixture.HappyLayers);
        const int n = EqlabFixture.HappyImages, size = EqlabFixture.Size;
        var images = fixture.ProbeData[..(n * size * size)];
        var reference = ReferenceMeasure.Run(model, images, n, 1, size, size, "translation", EqlabFixture.HappyMaxShift, pearson: true);

        var parts = new Dictionary<string, List<(double Inv, double Eqv)>>();
        foreach (var layer in json.RootElement.GetProperty("layers").EnumerateArray())
        {
            var name = layer.GetProperty("name").GetString()!;
            var expected = reference.PerLayer[name];
            foreach (var score in layer.GetProperty("perTransform").EnumerateObject())
            {
                AssertClose(expected[score.Name].Inv, score.Value.GetProperty("invariance"), $"{name} {score.Name} invariance");
                AssertClose(expected[score.Name].Eqv, score.Value.GetProperty("equivariance"), $"{name} {score.Name} equivariance");
            }
            double inv = expected.Values.Average(v => v.Inv!.Value), eqv = expected.Values.Average(v => v.Eqv!.Value);
            AssertClose(inv, layer.GetProperty("invariance"), $"{name} invariance");
            AssertClose(eqv, layer.GetProperty("equivariance"), $"{name} equivariance");
            var part = layer.GetProperty("part").GetString()!;
            if (!parts.TryGetValue(part, out var list)) parts[part] = list = [];
            list.Add((inv, eqv));
        }
        foreach (var part in json.RootElement.GetProperty("parts").EnumerateObject())
        {
            AssertClose(parts[part.Name].Average(s => s.Inv), part.Value.GetProperty("invariance"), $"part {part.Name} invariance");
            AssertClose(parts[part.Name].Average(s => s.Eqv), part.Value.GetProperty("equivariance"), $"part {part.Name} equivariance");
        }
    }

    [Fact]
    public void The_csv_has_the_documented_header_and_a_mean_row_and_one_row_per_transform_for_each_layer()
    {
        Assert.True(fixture.Happy.ExitCode == 0, fixture.Happy.ToString());
        var lines = System.IO.File.ReadAllLines(fixture.File("r.csv")).Where(l => l.Length > 0).ToList();
        using var json = JsonDocument.Parse(System.IO.File.ReadAllText(fixture.File("r.json")));

        Assert.Equal("layer,index,part,shape,transform,invariance,equivariance," +
            "invariance_stderr,invariance_low,invariance_high,equivariance_stderr,equivariance_low,equivariance_high", lines[0]);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        Assert.All(rows, r => Assert.Equal(13, r.Length));
        var layerRows = rows.Where(r => !r[0].StartsWith("part:", StringComparison.Ordinal)).ToList();
        Assert.Equal(EqlabFixture.HappyLayers.Length * (1 + EqlabFixture.HappyMaxShift), layerRows.Count);
        foreach (var layer in json.RootElement.GetProperty("layers").EnumerateArray())
        {
            var name = layer.GetProperty("name").GetString()!;
            var mine = layerRows.Where(r => r[0] == name).ToList();
            Assert.Equal(["mean", "shift1", "shift2", "shift3"], mine.Select(r => r[4]));
            Assert.All(mine, r =>
            {
                Assert.Equal(layer.GetProperty("index").GetInt32().ToString(CultureInfo.InvariantCulture), r[1]);
                Assert.Equal(layer.GetProperty("part").GetString(), r[2]);
                Assert.Equal(string.Join("x", layer.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64())), r[3]);
            });
            AssertScoreCells(layer, mine[0]);
            foreach (var row in mine.Skip(1)) AssertScoreCells(layer.GetProperty("perTransform").GetProperty(row[4]), row);
        }
        // Layer rows come in the order of --layers.
        Assert.Equal(EqlabFixture.HappyLayers, layerRows.Select(r => r[0]).Distinct());
    }

    [Fact]
    public void The_matching_csv_has_one_row_per_layer_transform_and_channel_as_result_json_has_them()
    {
        Assert.True(fixture.Happy.ExitCode == 0, fixture.Happy.ToString());
        var lines = System.IO.File.ReadAllLines(fixture.File("r-matching.csv")).Where(l => l.Length > 0).ToList();
        using var json = JsonDocument.Parse(System.IO.File.ReadAllText(fixture.File("r.json")));
        Assert.Equal(MatchingCsv.Header, lines[0]);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        int expected = 0;
        foreach (var layer in json.RootElement.GetProperty("layers").EnumerateArray())
            foreach (var m in layer.GetProperty("matching").EnumerateObject())
            {
                var matching = MeasurementResult.FromJson(json.RootElement.GetRawText()).Layers[layer.GetProperty("index").GetInt32()].Matching![m.Name];
                foreach (var channel in matching.Rows())
                {
                    var row = rows[expected++];
                    Assert.Equal(layer.GetProperty("name").GetString(), row[0]);
                    Assert.Equal(m.Name, row[2]);
                    Assert.Equal(channel.Channel.ToString(CultureInfo.InvariantCulture), row[3]);
                    Assert.Equal(channel.Match?.ToString(CultureInfo.InvariantCulture) ?? "", row[4]);
                    Assert.Equal(channel.Equivariance?.ToString("R", CultureInfo.InvariantCulture) ?? "", row[6]);
                    Assert.Equal(string.Join(' ', channel.Partners.Zip(channel.PartnerCounts, (p, n) => $"{p}:{n}")), row[8]);
                }
            }
        Assert.Equal(expected, rows.Count);
        Assert.True(expected > 0);
    }

    private static readonly string[] Uncertainty = ["invarianceStderr", "invarianceInterval", "equivarianceStderr", "equivarianceInterval"];

    /// <summary>Cells 5… hold the two scores, then each one's standard error, low and high, as result.json has them.</summary>
    private static void AssertScoreCells(JsonElement score, string[] row)
    {
        Assert.Equal(score.GetProperty("invariance").GetDouble(), Number(row[5]), 12);
        Assert.Equal(score.GetProperty("equivariance").GetDouble(), Number(row[6]), 12);
        foreach (var (name, at) in new[] { ("invariance", 7), ("equivariance", 10) })
        {
            Assert.Equal(score.GetProperty(name + "Stderr").GetDouble(), Number(row[at]), 12);
            var interval = score.GetProperty(name + "Interval").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(interval[0], Number(row[at + 1]), 12);
            Assert.Equal(interval[1], Number(row[at + 2]), 12);
        }
    }

    // ---- --list-layers ----

    [Fact]
    public void List_layers_lists_every_tensor_with_its_shape_op_and_default_part()
    {
        var run = Eqlab.Run(fixture.Folder, "measure", "--model", fixture.Model, "--list-layers");
        Assert.True(run.ExitCode == 0, run.ToString());

        var listed = new Dictionary<string, (bool Starred, string Shape, string Op, string Part)>();
        foreach (var line in run.Stdout.Split('\n').Select(l => l.TrimEnd('\r')))
        {
            var m = Regex.Match(line, @"^([* ]) (\S+)\t\[([0-9,]*)\]\t(\S+)\t(\S+)$");
            if (m.Success) listed[m.Groups[2].Value] = (m.Groups[1].Value == "*", m.Groups[3].Value, m.Groups[4].Value, m.Groups[5].Value);
        }
        Assert.Equal(EqlabFixture.GraphTensors.Count, listed.Count);
        foreach (var (name, shape, op, part) in EqlabFixture.GraphTensors)
        {
            Assert.True(listed.TryGetValue(name, out var entry), $"'{name}' is not listed:\n{run.Stdout}");
            Assert.Equal(string.Join(",", shape), entry.Shape);
            Assert.Equal(op, entry.Op);
            Assert.Equal(part ?? "-", entry.Part);
            Assert.True((part is not null) == entry.Starred, $"'{name}' should {(part is not null ? "" : "not ")}be marked as a default layer:\n{run.Stdout}");
        }
        // The image input and the weights are not layers.
        Assert.DoesNotContain("x", listed.Keys);
        Assert.DoesNotContain(listed.Keys, k => k.EndsWith(".weight", StringComparison.Ordinal) || k.EndsWith(".bias", StringComparison.Ordinal));
    }

    [Fact]
    public void Logits_names_the_layer_that_is_final_and_list_layers_follows_it()
    {
        var output = fixture.File("logits-flat.json");
        var run = Eqlab.Run(fixture.Folder, "measure", "--model", fixture.Model, "--probe", fixture.Probe, "--images", "2",
            "--layers", "relu1,head_pool,flat", "--logits", "flat", "--out", output);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var result = JsonDocument.Parse(File.ReadAllText(output));
        Assert.Equal(["Early", "Pool", "Final"], result.RootElement.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("part").GetString()));

        // In the default selection the named tensor takes the place of the model's own logits.
        var listed = Eqlab.Run(fixture.Folder, "measure", "--model", fixture.Model, "--list-layers", "--logits", "flat");
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.Contains("* flat\t[6]\tFlatten\tFinal", listed.Stdout);
        Assert.Contains("  logits\t[3]\tGemm\t-", listed.Stdout);
    }

    // ---- bad input: one line on stderr, non-zero exit, no stack trace ----

    [Theory]
    [InlineData("missing model")]
    [InlineData("text renamed .onnx")]
    [InlineData("truncated onnx")]
    [InlineData("probe of the wrong shape")]
    [InlineData("probe of the wrong dtype")]
    [InlineData("rotation on non-square input")]
    [InlineData("unknown layer")]
    [InlineData("unknown transform")]
    [InlineData("unknown similarity")]
    public void Bad_input_gives_one_clear_line_on_stderr_and_a_nonzero_exit(string problem)
    {
        string[] Measure(string model, string probe, params string[] more) =>
            ["measure", "--model", model, "--probe", probe, .. more];
        var (args, mentions) = problem switch
        {
            "missing model" => (Measure(fixture.MissingModel, fixture.Probe), new[] { "missing.onnx", "not found" }),
            "text renamed .onnx" => (Measure(fixture.TextModel, fixture.Probe), ["notes.onnx"]),
            "truncated onnx" => (Measure(fixture.TruncatedModel, fixture.Probe), ["truncated.onnx"]),
            "probe of the wrong shape" => (Measure(fixture.Model, fixture.WrongShapeProbe), ["[3,8,8]", "[1,8,8]"]),
            "probe of the wrong dtype" => (Measure(fixture.Model, fixture.Float64Probe), ["float64.npy", "float32"]),
            "rotation on non-square input" => (Measure(fixture.FreeModel, fixture.NonSquareProbe, "--transform", "rotation"), ["square"]),
            "unknown layer" => (Measure(fixture.Model, fixture.Probe, "--layers", "relu1,no_such_layer"), ["no_such_layer"]),
            "unknown transform" => (Measure(fixture.Model, fixture.Probe, "--transform", "shear"), ["shear", "rotation"]),
            "unknown similarity" => (Measure(fixture.Model, fixture.Probe, "--similarity", "euclidean"), ["euclidean", "pearson"]),
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };

        var run = Eqlab.Run(fixture.Folder, args);

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.True(run.StderrLines.Length == 1, $"expected exactly one line on stderr:\n{run}");
        Assert.DoesNotContain("   at ", run.Stderr);
        var line = run.StderrLines[0];
        Assert.False(ExceptionTypeName().IsMatch(line), $"the message names an exception type, not the problem:\n{run}");
        foreach (var mention in mentions)
            Assert.True(line.Contains(mention, StringComparison.OrdinalIgnoreCase), $"the message should mention '{mention}':\n{run}");
        if (problem == "unknown layer")
        {
            var valid = EqlabFixture.GraphTensors.Select(t => t.Name).Where(name => Regex.IsMatch(line, $@"\b{Regex.Escape(name)}\b")).ToList();
            Assert.True(valid.Count >= 3, $"the message should list valid layer names:\n{run}");
        }
    }

    // ---- the built-in rotation-equivariant control on the shipped Fashion-MNIST test set ----

    [Fact]
    public void The_builtin_rotation_equivariant_control_is_equivariant_at_every_part_on_fashion_mnist()
    {
        Assert.True(System.IO.File.Exists(fixture.FashionMnist), $"{fixture.FashionMnist} is missing");
        var run = Eqlab.Run(fixture.Folder, "measure", "--model", "builtin:control-rotation-equivariant",
            "--probe", fixture.FashionMnist, "--images", "16", "--out", "control.json");
        Assert.True(run.ExitCode == 0, run.ToString());

        using var json = JsonDocument.Parse(System.IO.File.ReadAllText(fixture.File("control.json")));
        Assert.Equal("rotation", json.RootElement.GetProperty("transform").GetString());
        Assert.Equal(16, json.RootElement.GetProperty("images").GetInt32());
        var parts = json.RootElement.GetProperty("parts");
        foreach (var part in new[] { "Early", "Middle", "Late", "Pool" })
        {
            var equivariance = parts.GetProperty(part).GetProperty("equivariance").GetDouble();
            Assert.True(equivariance >= 0.9999, $"{part} equivariance {equivariance}");
        }
        // Equivariant, not invariant: the spatial parts' invariance stays clearly below 1.
        Assert.True(parts.GetProperty("Late").GetProperty("invariance").GetDouble() < 0.9, run.ToString());
    }

    // ---- bench ----

    [Fact]
    public void Bench_prints_the_measurement_the_forward_passes_alone_their_ratio_and_peak_memory_at_N_and_4N()
    {
        var run = Eqlab.Run(fixture.Folder, "bench", "--model", "builtin:control-rotation-invariant",
            "--probe", fixture.FashionMnist, "--images", "16", "--batch", "8");
        Assert.True(run.ExitCode == 0, run.ToString());

        var measure = Figure(run.Stdout, @"^measurement\s+(\S+) s");
        var forward = Figure(run.Stdout, @"^forward passes only\s+(\S+) s");
        // The measurement's own timer of its forward passes: part of the measurement's time.
        var inside = Figure(run.Stdout, @"^\s+its forward passes\s+(\S+) s");
        Assert.InRange(inside, 0.0005, measure);
        var ratio = Figure(run.Stdout, @"^ratio \(measure/forward\)\s+(\S+)\s*$");
        Assert.True(forward > 0 && measure > 0, run.ToString());
        // The ratio is the two printed times' (each rounded to a millisecond).
        Assert.InRange(ratio, measure / forward - 0.01 - 0.002 / forward, measure / forward + 0.01 + 0.002 / forward);
        // The time the JIT spent compiling during the timed runs is reported: never negative, and for a run of a few
        // seconds not minutes (the warm-up, where most compiling happens, is outside it).
        Assert.InRange(Figure(run.Stdout, @"^JIT during the two\s+(\S+) s"), 0, 30);
        // Measured on eqlab measure processes of their own (16 and 64 images): both ran, and a process that loaded
        // libtorch and ONNX Runtime holds well over 100 MiB.
        Assert.InRange(Figure(run.Stdout, @"^peak memory at N\s+([0-9.]+) MiB"), 100, 4096);
        Assert.InRange(Figure(run.Stdout, @"^peak memory at 4N\s+([0-9.]+) MiB"), 100, 4096);
        // The default measurement keeps the matching, and the header does not say otherwise.
        Assert.DoesNotContain("no matching", run.Stdout);
    }

    [Fact]
    public void Bench_without_images_times_128_of_a_large_probe_set_and_its_help_says_so_where_measures_says_all()
    {
        // Fashion-MNIST's test set has 10,000 images: measure's default would take 2,000 of them, bench's a sample.
        var bench = Eqlab.Run(fixture.Folder, "bench", "--model", "builtin:control-rotation-invariant",
            "--probe", fixture.FashionMnist, "--no-memory", "--repeat", "1", "--out", "bench-default.json");
        Assert.True(bench.ExitCode == 0, bench.ToString());
        Assert.Contains("· 128 images ·", bench.Stdout.Split('\n')[0]);
        using (var figures = JsonDocument.Parse(File.ReadAllText(Path.Combine(fixture.Folder, "bench-default.json"))))
            Assert.Equal(128, figures.RootElement.GetProperty("images").GetInt32());

        var benchHelp = Eqlab.Run(fixture.Folder, "bench", "--help");
        var measureHelp = Eqlab.Run(fixture.Folder, "measure", "--help");
        Assert.Contains("Number of probe images (default: 128;", benchHelp.Stdout);
        Assert.DoesNotContain("images (default: all", benchHelp.Stdout);
        Assert.Contains("Number of probe images (default: all, up to 2000)", measureHelp.Stdout);
    }

    [Fact]
    public void No_matching_leaves_the_matching_out_of_measure_and_bench_and_says_so()
    {
        var measured = Eqlab.Run(fixture.Folder, "measure", "--model", "builtin:control-rotation-invariant",
            "--probe", fixture.FashionMnist, "--images", "4", "--batch", "4", "--no-matching", "--out", "plain.json");
        Assert.True(measured.ExitCode == 0, measured.ToString());
        using (var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(fixture.Folder, "plain.json"))))
            foreach (var layer in result.RootElement.GetProperty("layers").EnumerateArray())
            {
                Assert.Equal(JsonValueKind.Null, layer.GetProperty("matching").ValueKind);
                Assert.Equal(JsonValueKind.Number, layer.GetProperty("equivariance").ValueKind);
            }

        // The matching's CSV cannot be written without the matching: refused before any work.
        var refused = Eqlab.Run(fixture.Folder, "measure", "--model", "builtin:control-rotation-invariant",
            "--probe", fixture.FashionMnist, "--images", "4", "--no-matching", "--matching-csv", "m.csv");
        Assert.Equal(2, refused.ExitCode); // a user error
        Assert.Contains("--matching-csv needs the matching", refused.Stderr);
        Assert.False(File.Exists(Path.Combine(fixture.Folder, "m.csv")));

        // bench times the measurement it is asked for, and its figures say which.
        var bench = Eqlab.Run(fixture.Folder, "bench", "--model", "builtin:control-rotation-invariant",
            "--probe", fixture.FashionMnist, "--images", "8", "--batch", "8", "--no-memory", "--repeat", "1",
            "--no-matching", "--out", "bench-plain.json");
        Assert.True(bench.ExitCode == 0, bench.ToString());
        Assert.Contains("· no matching", bench.Stdout.Split('\n')[0]);
        using var figures = JsonDocument.Parse(File.ReadAllText(Path.Combine(fixture.Folder, "bench-plain.json")));
        Assert.False(figures.RootElement.GetProperty("matching").GetBoolean());
        Assert.True(figures.RootElement.GetProperty("measureSeconds").GetDouble() > 0);
    }

    // ---- helpers ----

    private static double Figure(string stdout, string pattern)
    {
        var match = Regex.Match(stdout, pattern, RegexOptions.Multiline);
        Assert.True(match.Success, $"no line /{pattern}/ in:\n{stdout}");
        return double.Parse(match.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"\b\w+Exception\b")]
    private static partial Regex ExceptionTypeName();

    private static List<string> Keys(JsonElement element) => element.EnumerateObject().Select(p => p.Name).ToList();

    private static double Number(string cell) => double.Parse(cell, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static void AssertClose(double? expected, JsonElement actual, string what)
    {
        Assert.True(expected.HasValue, $"{what}: the reference has no value");
        Assert.Equal(JsonValueKind.Number, actual.ValueKind);
        var a = actual.GetDouble();
        Assert.True(Math.Abs(expected!.Value - a) <= Tolerance, $"{what}: reference {expected:R}, eqlab {a:R}");
    }
}
