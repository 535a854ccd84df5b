using System.CommandLine;
using EquivarianceLab.Cli.Commands;
using EquivarianceLab.Compute;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Tests.Compute;
using TorchSharp;

namespace EquivarianceLab.Tests.Cli;

/// <summary>
/// The real <c>eqlab</c> with <c>--device</c> and <c>--threads</c>: CUDA on this CPU-only build fails at once, exit code 2
/// and one line on stderr saying what is missing (for an ONNX graph and for TorchSharp models), and a bad value is
/// named with what is allowed.
/// </summary>
public sealed class EqlabDeviceAndThreadsTests(EqlabFixture fixture) : IClassFixture<EqlabFixture>
{
    [Fact]
    public void Device_cuda_for_an_onnx_graph_fails_at_once_with_one_line()
    {
        // The probe set does not even exist: the device is refused before anything is read.
        var run = Eqlab.Run(fixture.Folder, "measure", "--model", fixture.Model, "--probe", fixture.File("nowhere.npy"), "--device", "cuda");
        AssertOneLine(run, $"eqlab: {ComputeDeviceTests.NoOnnxRuntimeCuda}");
    }

    [Theory]
    [InlineData("builtin:control-rotation-equivariant", "cuda")]
    [InlineData("arch:cnn7", "CUDA")]
    public void Device_cuda_for_a_torchsharp_model_fails_at_once_with_one_line(string model, string device)
    {
        var run = Eqlab.Run(fixture.Folder, "measure", "--model", model, "--probe", fixture.FashionMnist, "--images", "2", "--device", device);
        AssertOneLine(run, $"eqlab: {ComputeDeviceTests.NoTorchCuda}");
    }

    [Fact]
    public void Device_cuda_with_list_layers_fails_the_same_way()
    {
        var run = Eqlab.Run(fixture.Folder, "measure", "--model", fixture.Model, "--list-layers", "--device", "cuda");
        AssertOneLine(run, $"eqlab: {ComputeDeviceTests.NoOnnxRuntimeCuda}");
    }

    [Fact]
    public void An_unknown_device_is_named_with_the_allowed_values()
    {
        var run = Eqlab.Run(fixture.Folder, "measure", "--model", fixture.Model, "--probe", fixture.Probe, "--device", "tpu");
        AssertOneLine(run, "eqlab: --device must be cpu or cuda (got 'tpu').");
    }

    [Theory]
    [InlineData("measure")]
    [InlineData("bench")]
    [InlineData("evaluate")]
    public void Threads_0_is_refused(string command)
    {
        string[] args = command == "evaluate"
            ? [command, "--threads", "0"]
            : [command, "--model", fixture.Model, "--probe", fixture.Probe, "--threads", "0"];
        AssertOneLine(Eqlab.Run(fixture.Folder, args), "eqlab: --threads must be at least 1 (got 0).");
    }

    [Fact]
    public void Device_cpu_and_threads_1_measure_and_say_so()
    {
        var run = Eqlab.Run(fixture.Folder, "measure", "--model", fixture.Model, "--probe", fixture.Probe, "--images", "2",
            "--transform", "flip", "--device", "cpu", "--threads", "1");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(run.StderrLines, l => l.StartsWith("measured ", StringComparison.Ordinal) && l.Contains("; cpu, 1 thread)", StringComparison.Ordinal));
    }

    private static void AssertOneLine(EqlabRun run, string expected)
    {
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal([expected], run.StderrLines);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.Equal("", run.Stdout.Trim());
    }
}

/// <summary>These tests change the process's compute threads, so nothing may run beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ComputeThreadsCollection
{
    public const string Name = "Process-wide compute threads";
}

/// <summary>
/// <c>--threads N</c> in process, through the options the command line shares: libtorch's pool is capped and the ONNX
/// Runtime session of a model opened after it is made with N intra-op threads. Each test puts the process's settings back.
/// </summary>
[Collection(ComputeThreadsCollection.Name)]
public sealed class ThreadsOptionTests(EqlabFixture fixture) : IClassFixture<EqlabFixture>
{
    [Fact]
    public void Threads_1_caps_libtorch_and_the_onnx_session_of_the_model_opened_after_it()
    {
        int count = ComputeThreads.Count, torchThreads = torch.get_num_threads();
        try
        {
            // A cap above this machine's cores first, so that 1 below differs from whatever the defaults are.
            ComputeThreads.Limit(3);
            var (binder, parse) = Parse("--model", fixture.Model, "--probe", fixture.Probe);
            var (unlimited, unlimitedProbe) = binder.Open(parse);
            using (unlimited)
            using (unlimitedProbe)
            {
                Assert.Equal(3, Assert.IsType<OnnxFeatureModel>(unlimited).IntraOpThreads);
                Assert.Equal(3, torch.get_num_threads());
            }

            (binder, parse) = Parse("--model", fixture.Model, "--probe", fixture.Probe, "--threads", "1");
            var (model, probe) = binder.Open(parse);
            using (model)
            using (probe)
            {
                Assert.Equal(1, ComputeThreads.Count);
                Assert.Equal(1, torch.get_num_threads());
                Assert.Equal(1, Assert.IsType<OnnxFeatureModel>(model).IntraOpThreads);
                Assert.Equal(1, new OnnxLoadOptions().IntraOpThreads);
            }
        }
        finally
        {
            ComputeThreads.Limit(count);
            torch.set_num_threads(torchThreads);
        }
    }

    [Fact]
    public void Threads_0_is_refused_before_anything_changes()
    {
        int count = ComputeThreads.Count, torchThreads = torch.get_num_threads();
        var (binder, parse) = Parse("--model", fixture.Model, "--probe", fixture.Probe, "--threads", "0");
        var e = Assert.Throws<EquivarianceLabException>(() => binder.Open(parse));
        Assert.Equal("--threads must be at least 1 (got 0).", e.Message);
        Assert.Equal(count, ComputeThreads.Count);
        Assert.Equal(torchThreads, torch.get_num_threads());
    }

    private static (MeasureOptionsBinder Binder, ParseResult Parse) Parse(params string[] args)
    {
        var binder = new MeasureOptionsBinder();
        var command = new Command("measure");
        binder.AddTo(command);
        var parse = command.Parse(args);
        Assert.Empty(parse.Errors);
        return (binder, parse);
    }
}
