using EquivarianceLab.Compute;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Tests.Cli;

namespace EquivarianceLab.Tests.Compute;

/// <summary>
/// --device: what it accepts, and that CUDA asked for on this CPU-only build fails before any model work with the
/// one line that says what is missing, for ONNX graphs and for TorchSharp models alike, never quietly on the CPU.
/// </summary>
public sealed class ComputeDeviceTests(EqlabFixture fixture) : IClassFixture<EqlabFixture>
{
    public const string NoOnnxRuntimeCuda =
        "--device cuda: this build's ONNX Runtime has no CUDA execution provider (the default build is CPU-only; build with -p:EqlabGpu=true, see docs/gpu.md).";

    public const string NoTorchCuda =
        "--device cuda: TorchSharp finds no CUDA device (libtorch here is the CPU build libtorch-cpu-linux-x64; a CUDA libtorch and an NVIDIA driver are needed, see docs/gpu.md).";

    [Theory]
    [InlineData("cpu", ComputeDevice.Cpu)]
    [InlineData("cuda", ComputeDevice.Cuda)]
    [InlineData("CUDA", ComputeDevice.Cuda)]
    [InlineData(" Cpu ", ComputeDevice.Cpu)]
    public void Parses_cpu_and_cuda_in_any_case(string text, ComputeDevice expected)
    {
        Assert.Equal(expected, ComputeDevices.Parse(text));
        Assert.Equal(expected == ComputeDevice.Cuda ? "cuda" : "cpu", expected.Name());
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:1")]
    [InlineData("")]
    [InlineData(null)]
    public void Anything_else_names_the_allowed_values(string? text)
    {
        var e = Assert.Throws<EquivarianceLabException>(() => ComputeDevices.Parse(text));
        Assert.Equal($"--device must be cpu or cuda (got '{text}').", e.Message);
    }

    [Fact]
    public void This_build_has_neither_an_onnx_runtime_cuda_provider_nor_a_cuda_libtorch()
    {
        Assert.False(ComputeDevices.OnnxRuntimeHasCudaProvider());
        Assert.Equal(NoOnnxRuntimeCuda["--device cuda: ".Length..], ComputeDevices.OnnxRuntimeCudaProblem());
        Assert.Equal(NoTorchCuda["--device cuda: ".Length..], ComputeDevices.TorchCudaProblem());
        // The CPU needs nothing.
        ComputeDevices.EnsureOnnxRuntime(ComputeDevice.Cpu);
        ComputeDevices.EnsureTorch(ComputeDevice.Cpu);
    }

    [Fact]
    public void An_onnx_graph_on_cuda_fails_with_the_one_line_and_on_cpu_opens()
    {
        var e = Assert.Throws<EquivarianceLabException>(() => ModelLoader.Load(fixture.Model, device: ComputeDevice.Cuda));
        Assert.Equal(NoOnnxRuntimeCuda, e.Message);
        Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(fixture.Model, options: new OnnxLoadOptions { Device = ComputeDevice.Cuda }));

        using var model = ModelLoader.Load(fixture.Model, device: ComputeDevice.Cpu);
        Assert.Equal(ComputeDevice.Cpu, model.Device);
        Assert.Equal(ComputeDevice.Cpu, Assert.IsType<OnnxFeatureModel>(model).ExecutionDevice);
    }

    [Theory]
    [InlineData("builtin:control-rotation-equivariant")]
    [InlineData("arch:cnn7")]
    public void A_torchsharp_model_on_cuda_fails_with_the_one_line_and_on_cpu_opens(string path)
    {
        var e = Assert.Throws<EquivarianceLabException>(() => ModelLoader.Load(path, device: ComputeDevice.Cuda));
        Assert.Equal(NoTorchCuda, e.Message);

        using var model = ModelLoader.Load(path, device: ComputeDevice.Cpu);
        Assert.Equal(ComputeDevice.Cpu, model.Device);
    }

    [Fact]
    public void Measurement_inputs_check_the_device_before_reading_the_probe_set()
    {
        // The probe does not exist: the device is found wanting first, so nothing was read before failing.
        var missingProbe = fixture.File("nowhere.npy");
        Assert.Equal(NoOnnxRuntimeCuda,
            Assert.Throws<EquivarianceLabException>(() => MeasurementInputs.Open(fixture.Model, missingProbe, device: ComputeDevice.Cuda)).Message);
        Assert.Equal(NoTorchCuda,
            Assert.Throws<EquivarianceLabException>(() => MeasurementInputs.Open("builtin:control-rotation-invariant", missingProbe, device: ComputeDevice.Cuda)).Message);
        // On the CPU the same call gets as far as the probe set.
        Assert.Contains("nowhere.npy", Assert.Throws<EquivarianceLabException>(() => MeasurementInputs.Open(fixture.Model, missingProbe)).Message);
    }
}
