using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Compute;
using EquivarianceLab.Web.Workers;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// <c>Worker:Device</c> and the <c>gpu</c> queue on this CPU-only build: <c>cuda</c> stops the node at start with one
/// line naming the key; <c>auto</c> serves only the <c>cpu</c> queue; a run from the <c>gpu</c> queue is measured with
/// CUDA by the real worker process, which fails saying what is missing instead of quietly using the CPU. In the worker
/// process collection: the worker tests there kill worker processes of this test process.
/// </summary>
[Collection(WorkerProcessCollection.Name)]
public sealed class WorkerDeviceTests
{
    private const string NoCudaProvider =
        "this build's ONNX Runtime has no CUDA execution provider (the default build is CPU-only; build with -p:EqlabGpu=true, see docs/gpu.md).";

    public WorkerDeviceTests() =>
        Assert.False(ComputeDevices.OnnxRuntimeHasCudaProvider(), "these tests describe the default, CPU-only build");

    [Fact]
    public void Worker_Device_cuda_fails_validation_naming_the_key_where_there_is_no_cuda()
    {
        var options = new LabOptions();
        options.Worker.Device = "cuda";
        Assert.Equal([$"EquivarianceLab:Worker:Device is cuda, but {NoCudaProvider}"], LabOptionsValidator.Problems(options));

        options.Worker.Device = "gpu";
        Assert.Equal(["EquivarianceLab:Worker:Device must be auto, cpu or cuda (got 'gpu')."], LabOptionsValidator.Problems(options));

        // A UI node never measures, so the device it would measure on is not checked; auto and cpu need nothing.
        options.Worker.Device = "cuda";
        options.Role = NodeRole.Ui;
        Assert.Empty(LabOptionsValidator.Problems(options));
        foreach (var setting in new[] { "auto", "CPU", " Auto " })
            Assert.Empty(LabOptionsValidator.Problems(new LabOptions { Worker = { Device = setting } }));
    }

    [Fact]
    public void Auto_resolves_to_cpu_here_and_serves_only_the_cpu_queue()
    {
        var worker = new WorkerIdentity(new LabOptions());
        Assert.Equal(WorkerDevice.Auto, worker.Setting);
        Assert.False(worker.HasGpu);
        Assert.Equal("cpu", worker.Device);
        Assert.Equal(["cpu"], worker.Queues);
    }

    [Fact]
    public void The_gpu_queue_is_served_only_where_cuda_is_usable_and_not_switched_off()
    {
        Func<string?> usable = () => null, missing = () => NoCudaProvider;
        Assert.Equal(["gpu", "cpu"], new WorkerIdentity(WorkerDevice.Auto, usable).Queues);
        Assert.Equal(["cpu"], new WorkerIdentity(WorkerDevice.Auto, missing).Queues);
        Assert.Equal(["cpu"], new WorkerIdentity(WorkerDevice.Cpu, usable).Queues);
        Assert.Equal("cpu", new WorkerIdentity(WorkerDevice.Cpu, usable).Device);
        var cuda = new WorkerIdentity(WorkerDevice.Cuda, () => throw new InvalidOperationException("cuda is checked at start, not here"));
        Assert.Equal(["gpu", "cpu"], cuda.Queues);
        Assert.Equal("cuda", cuda.Device);

        // A run is measured on the device its queue names, whichever node takes it.
        Assert.Equal(ComputeDevice.Cuda, WorkerIdentity.DeviceFor(RunQueues.Gpu));
        Assert.Equal(ComputeDevice.Cpu, WorkerIdentity.DeviceFor(RunQueues.Cpu));
    }

    [Fact]
    public async Task The_real_server_with_Worker_Device_cuda_exits_at_start_with_one_line_naming_the_key()
    {
        var (exitCode, errors, output) = await ServerExit.WithSettingAsync("cuda-setting", "EquivarianceLab__Worker__Device", "cuda");
        Assert.Equal(2, exitCode);
        Assert.Equal([$"equivariancelab: EquivarianceLab:Worker:Device is cuda, but {NoCudaProvider}"],
            errors.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", output + errors);
    }

    [Fact]
    public async Task A_gpu_run_is_measured_with_cuda_in_the_worker_process_and_fails_saying_what_is_missing_while_a_cpu_run_completes()
    {
        var zoo = LabFactory.ZooWithFashionMnist();
        LabFactory.AddZooModel(zoo, "control-tiny", "Tiny control CNN", 50, Onnx.TinyCnn());
        var data = LabFactory.NewFolder("gpu-run");
        try
        {
            // A node that believes it has a usable GPU serves the gpu queue; the real worker process then finds there is none.
            await using var factory = new LabFactory(data, zoo,
                services: s => s.AddSingleton(new WorkerIdentity(WorkerDevice.Auto, () => null)));
            using var client = factory.CreateClient();

            var gpu = await LabFactory.WaitForRunAsync(client, await QueueAsync(client, "gpu"));
            Assert.Equal("failed", gpu.GetProperty("status").GetString());
            Assert.Equal("gpu", gpu.GetProperty("queue").GetString());
            Assert.Equal("cuda", gpu.GetProperty("device").GetString());
            Assert.Equal($"--device cuda: {NoCudaProvider}", gpu.GetProperty("error").GetString());

            var cpu = await LabFactory.WaitForRunAsync(client, await QueueAsync(client, "cpu"));
            Assert.True(cpu.GetProperty("status").GetString() == "done", cpu.ToString());
            Assert.Equal("cpu", cpu.GetProperty("queue").GetString());
            Assert.Equal("cpu", cpu.GetProperty("device").GetString());
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    private static async Task<int> QueueAsync(HttpClient client, string device)
    {
        var created = await client.PostAsJsonAsync("/api/runs",
            new { modelId = "control-tiny", probeSetId = "fashion-mnist-test", transform = "rotation", images = 8, device });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
    }
}
