using System.Reflection;
using TorchSharp;
using Xunit.Sdk;

[assembly: EquivarianceLab.Tests.TensorScopePerTest]

namespace EquivarianceLab.Tests;

/// <summary>
/// Runs every test inside a TorchSharp dispose scope, so no tensor a test makes is ever left to the garbage collector.
/// </summary>
/// <remarks>
/// A TorchSharp tensor that nothing references any more is freed by its finalizer, on the finalizer thread, at any
/// moment — including while libtorch is still reading it: in <c>relu(conv.forward(x))</c> the convolution's output is
/// unreachable as soon as its handle has been passed to <c>relu</c>. The test host died that way about once in six full
/// runs (the kernel log: a thread-pool thread faulting in <c>c10::intrusive_ptr&lt;TensorImpl&gt;::retain_</c> and
/// <c>at::TensorBase::options</c> on a freed tensor), while parallel test classes kept the collector busy. A program
/// doing such forward passes on two threads while a third collects garbage crashes within a minute; inside a dispose
/// scope it never does, because the scope holds every tensor until it is disposed. The library keeps its own work in
/// scopes (<c>TensorLifetimeTests</c> checks it); this covers the tests' own tensors. Tests here are synchronous, so
/// the scope is opened and disposed on the thread that runs the test.
/// </remarks>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class TensorScopePerTest : BeforeAfterTestAttribute
{
    private static readonly AsyncLocal<(DisposeScope Scope, int Thread)?> Current = new();

    public override void Before(MethodInfo methodUnderTest) =>
        Current.Value = (torch.NewDisposeScope(), Environment.CurrentManagedThreadId);

    public override void After(MethodInfo methodUnderTest)
    {
        if (Current.Value is not { } opened) return;
        Current.Value = null;
        // A dispose scope belongs to its thread's stack of scopes; disposing it from another thread would corrupt both.
        if (opened.Thread != Environment.CurrentManagedThreadId)
            throw new InvalidOperationException(
                $"{methodUnderTest.Name} ended on another thread than it started on; tests that use tensors must be synchronous.");
        opened.Scope.Dispose();
    }
}
