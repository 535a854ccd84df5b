using Onnx;

namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>
/// Checks that a tensor stored in an ONNX model (an initializer or a constant attribute) holds the data its shape
/// declares, before ONNX Runtime allocates the shape: a 600-byte file must not be able to declare a 10 GB weight.
/// External data must lie in the model's folder and cover the declared size.
/// </summary>
internal sealed class OnnxTensorData(string modelName, string folder, long fileLength, OnnxLimits limits)
{
    /// <param name="heldInFile">Bytes of the tensor's data that were left in the model file (<see cref="FileWeights"/>).</param>
    public void Check(TensorProto tensor, string what, long heldInFile = 0)
    {
        var label = $"{what} '{Messages.Untrusted(tensor.Name)}'";
        long elements = Elements(tensor.Dims, label);
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
        {
            CheckExternal(tensor, DeclaredBytes(tensor.DataType, elements, label), label);
            return;
        }
        if (tensor.DataType == (int)TensorProto.Types.DataType.String)
        {
            if (elements > tensor.StringData.Count)
                throw TooLarge(label, tensor, $"{elements} strings", $"{tensor.StringData.Count}");
            return;
        }
        long declared = DeclaredBytes(tensor.DataType, elements, label);
        // Typed fields are counted generously (8 bytes a value, the widest): the point is that the allocation
        // stays in proportion to the file, while ONNX Runtime checks the exact count itself.
        long held = heldInFile + tensor.RawData.Length + 8L * (tensor.FloatData.Count + tensor.Int32Data.Count + tensor.Int64Data.Count +
                                                  tensor.DoubleData.Count + tensor.Uint64Data.Count);
        if (declared > held) throw TooLarge(label, tensor, $"{declared} bytes", $"{held}");
    }

    /// <summary>A sparse tensor is expanded to its dense shape when loaded: that may not exceed the whole file.</summary>
    public void CheckSparse(SparseTensorProto sparse, string what)
    {
        var label = $"{what} '{Messages.Untrusted(sparse.Values?.Name)}'";
        if (sparse.Values is not null) Check(sparse.Values, what);
        if (sparse.Indices is not null) Check(sparse.Indices, what);
        long dense = DeclaredBytes(sparse.Values?.DataType ?? 0, Elements(sparse.Dims, label), label);
        if (dense > fileLength)
            throw new EquivarianceLabException(
                $"{modelName}: {label} expands to {dense} bytes ({Shape(sparse.Dims)}), more than the whole model file ({fileLength} bytes).");
    }

    private void CheckExternal(TensorProto tensor, long declared, string label)
    {
        if (!limits.AllowExternalData)
            throw new EquivarianceLabException(
                $"{modelName}: {label} keeps its data in a separate file, which is not allowed here; save the model as one file " +
                "(onnx.save_model(model, path, save_as_external_data=False)).");
        string? location = null;
        long offset = 0, length = -1;
        foreach (var entry in tensor.ExternalData)
        {
            if (entry.Key == "location") location = entry.Value;
            else if (entry.Key is "offset" or "length")
            {
                if (!long.TryParse(entry.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value))
                    throw new EquivarianceLabException($"{modelName}: {label} has an invalid external data {entry.Key} '{Messages.Untrusted(entry.Value, 40)}'.");
                if (entry.Key == "offset") offset = value;
                else length = value;
            }
        }
        var file = ExternalFile(location, label);
        long available = new FileInfo(file).Length - offset;
        if (length < 0) length = Math.Max(0, available);
        if (length > available)
            throw new EquivarianceLabException(
                $"{modelName}: {label} claims {length} bytes at offset {offset} of its external data file, which holds {Math.Max(0, available)} there.");
        if (declared > length)
            throw new EquivarianceLabException($"{modelName}: {label} declares {declared} bytes ({Shape(tensor.Dims)}) but its external data holds {length}.");
    }

    /// <summary>The external data file, which must be a plain file inside the model's folder (no absolute path, no '..', no link).</summary>
    private string ExternalFile(string? location, string label)
    {
        var quoted = Messages.Untrusted(location);
        if (string.IsNullOrEmpty(location) || location.Contains('\0') || Path.IsPathRooted(location) || location.Contains(':') ||
            location.Split('/', '\\').Any(part => part == ".."))
            throw new EquivarianceLabException($"{modelName}: {label} names external data '{quoted}' outside the model's folder; refusing it.");
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)) + Path.DirectorySeparatorChar;
        var file = Path.GetFullPath(Path.Combine(root, location));
        if (!file.StartsWith(root, StringComparison.Ordinal))
            throw new EquivarianceLabException($"{modelName}: {label} names external data '{quoted}' outside the model's folder; refusing it.");
        var info = new FileInfo(file);
        if (!info.Exists)
            throw new EquivarianceLabException($"{modelName}: {label} keeps its data in '{quoted}', which is not beside the model.");
        if (info.LinkTarget is not null)
            throw new EquivarianceLabException($"{modelName}: {label} keeps its data in '{quoted}', a link; refusing it.");
        return file;
    }

    private long Elements(IList<long> dims, string label)
    {
        long elements = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw new EquivarianceLabException($"{modelName}: {label} has a negative dimension ({Shape(dims)}).");
            try
            {
                elements = checked(elements * d);
            }
            catch (OverflowException)
            {
                throw new EquivarianceLabException($"{modelName}: {label} has an impossible shape {Shape(dims)}.");
            }
        }
        return elements;
    }

    private long DeclaredBytes(int dataType, long elements, string label)
    {
        try
        {
            return checked(elements * BitsPerElement(dataType) + 7) / 8;
        }
        catch (OverflowException)
        {
            throw new EquivarianceLabException($"{modelName}: {label} declares an impossible size ({elements} elements).");
        }
    }

    /// <summary>Storage bits of one element; strings count as one byte, and unknown (newer) types as the narrowest known, 4.</summary>
    private static int BitsPerElement(int dataType) => (TensorProto.Types.DataType)dataType switch
    {
        TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Bool
            or TensorProto.Types.DataType.String or TensorProto.Types.DataType.Float8E4M3Fn or TensorProto.Types.DataType.Float8E4M3Fnuz
            or TensorProto.Types.DataType.Float8E5M2 or TensorProto.Types.DataType.Float8E5M2Fnuz => 8,
        TensorProto.Types.DataType.Uint16 or TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Float16
            or TensorProto.Types.DataType.Bfloat16 => 16,
        TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 or TensorProto.Types.DataType.Uint32 => 32,
        TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Uint64 or TensorProto.Types.DataType.Double
            or TensorProto.Types.DataType.Complex64 => 64,
        TensorProto.Types.DataType.Complex128 => 128,
        _ => 4,
    };

    private EquivarianceLabException TooLarge(string label, TensorProto tensor, string declared, string held) =>
        new($"{modelName}: {label} declares {declared} ({Shape(tensor.Dims)}) but the file holds at most {held} for it; refusing a tensor larger than its data.");

    private static string Shape(IEnumerable<long> dims) => "[" + string.Join(",", dims) + "]";
}
