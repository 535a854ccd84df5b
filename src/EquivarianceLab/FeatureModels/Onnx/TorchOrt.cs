using EquivarianceLab.Compute;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;

namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>Moves float32 CPU tensors between TorchSharp and ONNX Runtime without managed copies.</summary>
internal static class TorchOrt
{
    /// <summary>
    /// An OrtValue over the tensor's own native memory (no copy). The tensor must be contiguous, float32, on
    /// the CPU, and must outlive the returned value.
    /// </summary>
    public static OrtValue Wrap(torch.Tensor tensor)
    {
        var bytes = tensor.bytes;
        return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, tensor.shape,
            TensorMemory.AddressOf(bytes), bytes.Length);
    }

    /// <summary>A new torch tensor holding a copy of a float OrtValue (one native-to-native copy).</summary>
    public static torch.Tensor ToTensor(OrtValue value)
    {
        var tensor = torch.empty(value.GetTensorTypeAndShape().Shape, torch.ScalarType.Float32);
        try
        {
            CopyInto(value, tensor);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>Copies a float OrtValue into a contiguous float32 tensor of the same size.</summary>
    public static void CopyInto(OrtValue value, torch.Tensor destination) =>
        MemoryMarshal.AsBytes(value.GetTensorDataAsSpan<float>()).CopyTo(destination.bytes);
}
