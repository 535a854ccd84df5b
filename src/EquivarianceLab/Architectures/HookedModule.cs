using EquivarianceLab.FeatureModels;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Architectures;

/// <summary>
/// Base of the project's architectures: one forward pass (<see cref="Run"/>) that reports its named intermediate
/// tensors to a <see cref="HookRecorder"/>. <c>forward</c> returns the logits; <see cref="ForwardHooks"/> returns the
/// requested hook points. Runs in the caller's grad mode and train/eval mode (callers measuring features use
/// <c>eval()</c> and <c>torch.no_grad()</c>).
/// </summary>
public abstract class HookedModule : nn.Module<Tensor, Tensor>, IHookedModule
{
    public const string PoolHook = "pool";
    public const string LogitsHook = "logits";

    protected HookedModule(string name) : base(name) => NativeRuntime.EnsureExactConvolutions();

    /// <summary>All hook point names, in forward order; the last two are <c>pool</c> and <c>logits</c>.</summary>
    public abstract IReadOnlyList<string> HookPoints { get; }

    public string? LogitsHookPoint => LogitsHook;

    /// <summary>Input shape without the batch dimension, [C, H, W]; -1 where any size works.</summary>
    public abstract IReadOnlyList<long> InputShape { get; }

    /// <summary>The forward pass. Implementations call <c>hooks?.Record(name, tensor)</c> for every hook point and must not
    /// modify a recorded tensor in place afterwards.</summary>
    protected abstract Tensor Run(Tensor input, HookRecorder? hooks);

    public override Tensor forward(Tensor input) => Run(input, null);

    public IReadOnlyList<Tensor> ForwardHooks(Tensor input, IReadOnlyList<string> hookPoints)
    {
        ArgumentNullException.ThrowIfNull(hookPoints);
        var known = HookPoints;
        foreach (var name in hookPoints)
            if (!known.Contains(name))
                throw new EquivarianceLabException($"{GetName()} has no hook point '{name}'; its hook points are {string.Join(", ", known)}.");
        var recorder = new HookRecorder(hookPoints);
        using var scope = torch.NewDisposeScope();
        Run(input, recorder);
        var results = new List<Tensor>(hookPoints.Count);
        foreach (var name in hookPoints)
        {
            var t = recorder.Get(name) ?? throw new InvalidOperationException($"{GetName()} did not record hook point '{name}'.");
            results.Add(t.alias());
        }
        scope.MoveToOuter(results);
        return results;
    }

    /// <summary>Records the tensors of the hook points that were asked for.</summary>
    public sealed class HookRecorder
    {
        private readonly Dictionary<string, Tensor?> _wanted;

        public HookRecorder(IEnumerable<string> wanted) => _wanted = wanted.Distinct().ToDictionary(n => n, _ => (Tensor?)null);

        public void Record(string name, Tensor tensor)
        {
            if (_wanted.ContainsKey(name)) _wanted[name] = tensor;
        }

        public Tensor? Get(string name) => _wanted.GetValueOrDefault(name);
    }
}
