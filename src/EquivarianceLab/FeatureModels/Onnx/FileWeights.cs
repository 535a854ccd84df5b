using System.Globalization;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;
using Onnx;

namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>
/// Reads an ONNX model without the data of its large initializers, which stays in the file for ONNX Runtime to read.
/// Every session is built from a serialised copy of the graph (with the outputs the probe or the measure needs), and
/// reading tens of megabytes of weights into managed memory, serialising them into each copy and having ONNX Runtime
/// parse them out of it again cost about a second on a ResNet-18's 45 MB (docs/models-and-probes.md, "ONNX graphs",
/// Loading). Here the protobuf is walked field by field without reading the large payloads; the rest of the file is
/// parsed as usual, and each large initializer becomes external data pointing at its own place in the model file.
/// </summary>
internal static class FileWeights
{
    /// <summary>Smaller tensors stay in the graph: shapes and scalars that constant folding reads.</summary>
    public const int MinBytes = 4096;

    private const int ModelGraphField = 7;       // ModelProto.graph
    private const int GraphInitializerField = 5; // GraphProto.initializer
    private const int TensorDataTypeField = 2;   // TensorProto.data_type
    private const int TensorSegmentField = 3;    // TensorProto.segment
    private const int TensorFloatDataField = 4;  // TensorProto.float_data (packed: little-endian floats, as raw_data)
    private const int TensorRawDataField = 9;    // TensorProto.raw_data
    private const int TensorExternalDataField = 13;
    private const int TensorDataLocationField = 14;
    private const int LengthDelimited = 2;

    /// <summary>A large initializer left in the file: its index among the graph's initializers and where its data lies.</summary>
    public readonly record struct Place(int Index, long Offset, long Length);

    /// <summary>
    /// The model with its large initializers' data left out (<paramref name="places"/> says where it lies), or null
    /// where the file is not the plain layout this reads — a graph field given more than once (protobuf would merge
    /// them), groups, anything that does not add up — or the rest does not parse: then the caller parses the file whole.
    /// </summary>
    public static ModelProto? Read(string path, out List<Place> places)
    {
        places = [];
        ModelProto? model;
        try
        {
            model = Skeleton(path, places);
        }
        catch (EndOfStreamException)
        {
            model = null; // the file shrank while it was read: the whole parse says what is wrong with it
        }
        if (model is null) places.Clear();
        return model;
    }

    private static ModelProto? Skeleton(string path, List<Place> places)
    {
        using var handle = File.OpenHandle(path);
        var file = new FileWindow(handle, RandomAccess.GetLength(handle));
        var skeleton = new MemoryStream();
        bool graphSeen = false;
        long position = 0;
        while (position < file.Length)
        {
            if (!NextField(file, ref position, file.Length, out var field)) return null;
            if (field.Number != ModelGraphField)
            {
                file.CopyTo(field.Start, field.End, skeleton);
                continue;
            }
            if (graphSeen || field.WireType != LengthDelimited) return null;
            graphSeen = true;
            var graph = Graph(file, field, places);
            if (graph is null) return null;
            WriteTag(skeleton, ModelGraphField);
            WriteVarint(skeleton, (ulong)graph.Length);
            graph.WriteTo(skeleton);
        }
        if (!graphSeen) return null;
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(skeleton.GetBuffer().AsSpan(0, (int)skeleton.Length));
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
        // Each place's tensor is the initializer of that index, now without data.
        var initializers = model.Graph?.Initializer;
        bool consistent = initializers is not null && places.All(p =>
            p.Index < initializers.Count && initializers[p.Index].RawData.IsEmpty && initializers[p.Index].FloatData.Count == 0);
        return consistent ? model : null;
    }

    /// <summary>
    /// Points each initializer in <paramref name="places"/> at its data in the model file <paramref name="fileName"/>
    /// (external data relative to the model's folder), once the checks have seen the graph.
    /// </summary>
    public static void PointAtFile(GraphProto graph, IReadOnlyList<Place> places, string fileName)
    {
        foreach (var place in places)
        {
            var tensor = graph.Initializer[place.Index];
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = fileName });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = place.Offset.ToString(CultureInfo.InvariantCulture) });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = place.Length.ToString(CultureInfo.InvariantCulture) });
        }
    }

    /// <summary>The graph message without the large initializers' payloads.</summary>
    private static MemoryStream? Graph(FileWindow file, Field graphField, List<Place> places)
    {
        var graph = new MemoryStream();
        int initializers = 0;
        long position = graphField.PayloadStart;
        while (position < graphField.End)
        {
            if (!NextField(file, ref position, graphField.End, out var field)) return null;
            if (field.Number != GraphInitializerField)
            {
                file.CopyTo(field.Start, field.End, graph);
                continue;
            }
            if (field.WireType != LengthDelimited) return null;
            int index = initializers++;
            var payload = LargePayload(file, field);
            if (payload is not { } data)
            {
                file.CopyTo(field.Start, field.End, graph);
                continue;
            }
            // The tensor's fields before and after its data, verbatim: name, type and dims are all the session needs.
            WriteTag(graph, GraphInitializerField);
            WriteVarint(graph, (ulong)(field.End - field.PayloadStart - (data.End - data.Start)));
            file.CopyTo(field.PayloadStart, data.Start, graph);
            file.CopyTo(data.End, field.End, graph);
            places.Add(new Place(index, data.PayloadStart, data.End - data.PayloadStart));
        }
        return graph;
    }

    /// <summary>
    /// The field holding a tensor's data when it is large and one contiguous little-endian block: its only raw_data,
    /// or, for a float tensor, its only float_data, packed. Null otherwise (several pieces, floats written one field
    /// each, data already external or in segments): such a tensor stays in the graph as it is.
    /// </summary>
    private static Field? LargePayload(FileWindow file, Field tensor)
    {
        Field? raw = null, floats = null;
        int rawCount = 0, floatCount = 0;
        ulong dataType = 0;
        long position = tensor.PayloadStart;
        while (position < tensor.End)
        {
            if (!NextField(file, ref position, tensor.End, out var field)) return null;
            switch (field.Number)
            {
                case TensorRawDataField:
                    rawCount++;
                    raw = field;
                    break;
                case TensorFloatDataField:
                    floatCount++;
                    floats = field;
                    break;
                case TensorDataTypeField:
                    dataType = field.Value;
                    break;
                case TensorSegmentField or TensorExternalDataField or TensorDataLocationField:
                    return null;
            }
        }
        var data = rawCount == 1 && floatCount == 0 ? raw
            : floatCount == 1 && rawCount == 0 && dataType == (ulong)TensorProto.Types.DataType.Float ? floats
            : null;
        return data is { WireType: LengthDelimited } found && found.End - found.PayloadStart >= MinBytes ? found : null;
    }

    /// <summary>One field: where it starts (its tag), where its payload starts and where it ends; a varint's value.</summary>
    private readonly record struct Field(int Number, int WireType, long Start, long PayloadStart, long End, ulong Value);

    /// <summary>Reads the field at <paramref name="position"/> and moves past it; false for groups and anything past <paramref name="end"/>.</summary>
    private static bool NextField(FileWindow file, ref long position, long end, out Field field)
    {
        field = default;
        long start = position;
        if (!ReadVarint(file, ref position, end, out ulong tag) || tag >> 3 is 0 or > int.MaxValue) return false;
        int number = (int)(tag >> 3), wireType = (int)(tag & 7);
        long payload = position;
        ulong value = 0;
        switch (wireType)
        {
            case 0:
                if (!ReadVarint(file, ref position, end, out value)) return false;
                break;
            case 1 or 5:
                long size = wireType == 1 ? 8 : 4;
                if (end - position < size) return false;
                position += size;
                break;
            case LengthDelimited:
                if (!ReadVarint(file, ref position, end, out ulong length) || length > (ulong)(end - position)) return false;
                payload = position;
                position += (long)length;
                break;
            default:
                return false;
        }
        field = new Field(number, wireType, start, payload, position, value);
        return true;
    }

    private static bool ReadVarint(FileWindow file, ref long position, long end, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (position >= end) return false;
            byte b = file[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }

    private static void WriteTag(Stream output, int field) => WriteVarint(output, (ulong)(field << 3 | LengthDelimited));

    private static void WriteVarint(Stream output, ulong value)
    {
        while (value >= 0x80)
        {
            output.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        output.WriteByte((byte)value);
    }

    /// <summary>
    /// The file read through a 64 KiB window: the walk reads tags and lengths, jumps over the large payloads without
    /// reading them, and copies the rest.
    /// </summary>
    private sealed class FileWindow(SafeFileHandle handle, long length)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private long _start;
        private int _count;

        public long Length { get; } = length;

        public byte this[long position]
        {
            get
            {
                if (position < _start || position >= _start + _count)
                {
                    _start = position;
                    _count = RandomAccess.Read(handle, _buffer, position);
                    if (_count <= 0) throw new EndOfStreamException("The model file ended while it was being read.");
                }
                return _buffer[position - _start];
            }
        }

        public void CopyTo(long start, long end, Stream output)
        {
            // Within the window (the usual case for small fields) no read is needed.
            if (start >= _start && end <= _start + _count)
            {
                output.Write(_buffer, (int)(start - _start), (int)(end - start));
                return;
            }
            var chunk = new byte[(int)Math.Min(end - start, 1 << 20)];
            for (long at = start; at < end;)
            {
                int read = RandomAccess.Read(handle, chunk.AsSpan(0, (int)Math.Min(chunk.Length, end - at)), at);
                if (read <= 0) throw new EndOfStreamException("The model file ended while it was being read.");
                output.Write(chunk, 0, read);
                at += read;
            }
        }
    }
}
