using System.Globalization;
using Onnx;

namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>
/// Where each graph initializer's data (its <c>raw_data</c>, or its packed <c>float_data</c>) lies in the model file. A session is built from a serialised copy of
/// the graph (with the outputs the probe or the measure needs), and serialising tens of megabytes of weights into that
/// copy, then having ONNX Runtime parse them out of it again, cost a third of a second per session on a ResNet-18's
/// 45 MB (docs/models-and-probes.md, "ONNX graphs", Loading). With these places known, <see cref="OnnxGraph.Serialize"/>
/// writes each large initializer as external data pointing into the model file itself, and ONNX Runtime reads the
/// weights straight from there.
/// </summary>
internal sealed class InlineWeights
{
    /// <summary>Smaller tensors stay in the graph: shapes and scalars that constant folding reads.</summary>
    public const int MinBytes = 4096;

    private const int ModelGraphField = 7;       // ModelProto.graph
    private const int GraphInitializerField = 5; // GraphProto.initializer
    private const int TensorFloatDataField = 4;  // TensorProto.float_data (packed: little-endian floats, as raw_data)
    private const int TensorRawDataField = 9;    // TensorProto.raw_data

    private readonly (long Offset, int Length)[] _places;
    private readonly long _fileLength;
    private readonly DateTime _lastWrite;

    private InlineWeights(string path, (long, int)[] places, long fileLength, DateTime lastWrite)
    {
        Path = path;
        _places = places;
        _fileLength = fileLength;
        _lastWrite = lastWrite;
    }

    public string Path { get; }

    /// <summary>How many initializers sessions read from the file.</summary>
    public int InFile => _places.Count(p => p.Offset >= 0);

    /// <summary>
    /// The places of <paramref name="graph"/>'s initializers in <paramref name="file"/>, the bytes it was parsed from;
    /// null when they cannot be known for certain (then every session gets the weights inline, as before). Each place
    /// is checked against the parsed tensor value for value, so a place is used only where it holds exactly that tensor.
    /// </summary>
    public static InlineWeights? Find(string path, byte[] file, GraphProto graph)
    {
        var places = InitializerPlaces(file);
        if (places is null || places.Count != graph.Initializer.Count) return null;
        var kept = new (long, int)[places.Count];
        for (int i = 0; i < places.Count; i++)
        {
            var (offset, length, field) = places[i];
            var tensor = graph.Initializer[i];
            bool usable = length >= MinBytes && tensor.ExternalData.Count == 0 && field switch
            {
                TensorRawDataField => tensor.FloatData.Count == 0 && tensor.RawData.Span.SequenceEqual(file.AsSpan((int)offset, length)),
                TensorFloatDataField => tensor.RawData.IsEmpty && tensor.DataType == (int)TensorProto.Types.DataType.Float
                                        && SameFloats(tensor.FloatData, file.AsSpan((int)offset, length)),
                _ => false,
            };
            kept[i] = usable ? (offset, length) : (-1, 0);
        }
        var info = new FileInfo(path);
        return new InlineWeights(path, kept, info.Length, info.LastWriteTimeUtc);
    }

    private static bool SameFloats(Google.Protobuf.Collections.RepeatedField<float> values, ReadOnlySpan<byte> bytes)
    {
        if ((long)values.Count * sizeof(float) != bytes.Length) return false;
        for (int i = 0; i < values.Count; i++)
            if (BitConverter.SingleToInt32Bits(values[i]) != System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes[(i * sizeof(float))..]))
                return false;
        return true;
    }

    /// <summary>
    /// Puts, for the length of <paramref name="serialise"/>, in place of each large initializer a tensor with the same
    /// name, type and dims whose data is external: the model file at the initializer's place. The graph is as it was
    /// afterwards. Falls back to the inline weights when the file has changed since it was read.
    /// </summary>
    public byte[] WithWeightsInFile(GraphProto graph, Func<byte[]> serialise)
    {
        var info = new FileInfo(Path);
        if (!info.Exists || info.Length != _fileLength || info.LastWriteTimeUtc != _lastWrite) return serialise();
        var fileName = System.IO.Path.GetFileName(Path);
        var replaced = new List<(int Index, TensorProto Tensor)>();
        try
        {
            for (int i = 0; i < _places.Length; i++)
            {
                var (offset, length) = _places[i];
                if (offset < 0) continue;
                var tensor = graph.Initializer[i];
                var external = new TensorProto
                {
                    Name = tensor.Name,
                    DataType = tensor.DataType,
                    DocString = tensor.DocString,
                    DataLocation = TensorProto.Types.DataLocation.External,
                };
                external.Dims.AddRange(tensor.Dims);
                external.ExternalData.Add(Entry("location", fileName));
                external.ExternalData.Add(Entry("offset", offset.ToString(CultureInfo.InvariantCulture)));
                external.ExternalData.Add(Entry("length", length.ToString(CultureInfo.InvariantCulture)));
                replaced.Add((i, tensor));
                graph.Initializer[i] = external;
            }
            return serialise();
        }
        finally
        {
            foreach (var (index, tensor) in replaced) graph.Initializer[index] = tensor;
        }
    }

    private static StringStringEntryProto Entry(string key, string value) => new() { Key = key, Value = value };

    /// <summary>
    /// For each initializer of the model's graph, in order, where its data lies: the payload of its raw_data or of its
    /// packed float_data, and which of the two ((-1, 0, 0) when neither, or when float_data comes in several pieces or
    /// unpacked). Null where the file is not the plain layout this reads: a graph field given more than once (protobuf
    /// would merge them), groups, or anything that does not add up.
    /// </summary>
    internal static List<(long Offset, int Length, int Field)>? InitializerPlaces(ReadOnlySpan<byte> file)
    {
        int graphStart = -1, graphLength = 0;
        int position = 0;
        while (position < file.Length)
        {
            if (!NextField(file, ref position, file.Length, out int field, out int start, out int length)) return null;
            if (field != ModelGraphField) continue;
            if (graphStart >= 0 || length < 0) return null;
            (graphStart, graphLength) = (start, length);
        }
        if (graphStart < 0) return null;

        var places = new List<(long, int, int)>();
        int graphEnd = graphStart + graphLength;
        position = graphStart;
        while (position < graphEnd)
        {
            if (!NextField(file, ref position, graphEnd, out int field, out int start, out int length)) return null;
            if (field != GraphInitializerField) continue;
            if (length < 0) return null;
            // raw_data is a scalar: its last occurrence counts. float_data is repeated: usable only in one packed piece.
            (long, int) raw = (-1, 0), floats = (-1, 0);
            int floatPieces = 0;
            int inner = start, tensorEnd = start + length;
            while (inner < tensorEnd)
            {
                if (!NextField(file, ref inner, tensorEnd, out int tensorField, out int dataStart, out int dataLength)) return null;
                if (tensorField == TensorRawDataField && dataLength >= 0) raw = (dataStart, dataLength);
                if (tensorField == TensorFloatDataField)
                {
                    floatPieces++;
                    if (dataLength >= 0) floats = (dataStart, dataLength);
                }
            }
            places.Add(raw.Item1 >= 0 && floatPieces == 0 ? (raw.Item1, raw.Item2, TensorRawDataField)
                : raw.Item1 < 0 && floatPieces == 1 && floats.Item1 >= 0 ? (floats.Item1, floats.Item2, TensorFloatDataField)
                : (-1, 0, 0));
        }
        return places;
    }

    /// <summary>
    /// Reads one field at <paramref name="position"/> and moves past it. For a length-delimited field, its payload's
    /// start and length; for any other wire type a length of −1. False for groups and anything past <paramref name="end"/>.
    /// </summary>
    private static bool NextField(ReadOnlySpan<byte> data, ref int position, int end, out int field, out int start, out int length)
    {
        field = 0;
        start = 0;
        length = -1;
        if (!ReadVarint(data, ref position, end, out ulong tag) || tag >> 3 is 0 or > int.MaxValue) return false;
        field = (int)(tag >> 3);
        switch ((int)(tag & 7))
        {
            case 0:
                return ReadVarint(data, ref position, end, out _);
            case 1:
                if (end - position < 8) return false;
                position += 8;
                return true;
            case 2:
                if (!ReadVarint(data, ref position, end, out ulong size) || size > (ulong)(end - position)) return false;
                start = position;
                length = (int)size;
                position += length;
                return true;
            case 5:
                if (end - position < 4) return false;
                position += 4;
                return true;
            default:
                return false;
        }
    }

    private static bool ReadVarint(ReadOnlySpan<byte> data, ref int position, int end, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (position >= end) return false;
            byte b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }
}
