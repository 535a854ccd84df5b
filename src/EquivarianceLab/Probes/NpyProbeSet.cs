using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using TorchSharp;

namespace EquivarianceLab.Probes;

/// <summary>
/// A float32 <c>[N, C, H, W]</c> <c>.npy</c> file (format versions 1.0, 2.0 and 3.0, as numpy writes them), used as
/// the model's input unchanged. Batches are read by positioned reads, so memory does not grow with N.
/// </summary>
public sealed class NpyProbeSet : IProbeSet
{
    private readonly SafeFileHandle _handle;
    private readonly long _dataOffset;
    private readonly long _imageFloats;
    private readonly long[] _imageShape;

    private NpyProbeSet(string path, SafeFileHandle handle, long dataOffset, long[] shape)
    {
        Path = path;
        _handle = handle;
        _dataOffset = dataOffset;
        Count = (int)shape[0];
        _imageShape = [shape[1], shape[2], shape[3]];
        _imageFloats = shape[1] * shape[2] * shape[3];
    }

    public string Path { get; }
    public string Name => System.IO.Path.GetFileName(Path);
    public int Count { get; }
    public IReadOnlyList<long> ImageShape => _imageShape;

    public static NpyProbeSet Open(string path)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EquivarianceLabException($"Cannot open probe file {path}: {e.Message}", e);
        }
        try
        {
            var (dataOffset, shape) = ReadHeader(path, handle);
            return new NpyProbeSet(path, handle, dataOffset, shape);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public torch.Tensor ReadBatch(int start, int count)
    {
        ProbeTensors.CheckRange(start, count, Count);
        // Read straight into the tensor's memory: no managed buffer per batch (large-object-heap churn).
        var batch = torch.empty([count, _imageShape[0], _imageShape[1], _imageShape[2]], torch.ScalarType.Float32);
        try
        {
            var bytes = batch.bytes;
            long offset = _dataOffset + (long)start * _imageFloats * sizeof(float);
            int done = 0;
            while (done < bytes.Length)
            {
                // Positioned reads: thread-safe, and only the batch is ever in memory.
                int n = RandomAccess.Read(_handle, bytes[done..], offset + done);
                if (n == 0) throw new EquivarianceLabException($"{Name} is truncated: it ended while reading images {start}..{start + count - 1}.");
                done += n;
            }
            return batch;
        }
        catch
        {
            batch.Dispose();
            throw;
        }
    }

    public void Dispose() => _handle.Dispose();

    private static (long DataOffset, long[] Shape) ReadHeader(string path, SafeFileHandle handle)
    {
        string name = System.IO.Path.GetFileName(path);
        long fileLength = RandomAccess.GetLength(handle);
        Span<byte> prefix = stackalloc byte[12];
        int got = ReadAt(handle, prefix, 0);
        ReadOnlySpan<byte> magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
        if (got < 10 || !prefix[..6].SequenceEqual(magic))
            throw new EquivarianceLabException($"{name} is not a .npy file (it does not start with the NumPy magic bytes).");
        int major = prefix[6], minor = prefix[7];
        if (major is < 1 or > 3)
            throw new EquivarianceLabException($"{name} uses .npy format version {major}.{minor}; only versions 1.0, 2.0 and 3.0 are supported.");
        int lengthBytes = major == 1 ? 2 : 4;
        if (got < 8 + lengthBytes) throw new EquivarianceLabException($"{name} is truncated: its .npy header is incomplete.");
        long headerLength = major == 1
            ? BitConverter.ToUInt16(prefix[8..10])
            : BitConverter.ToUInt32(prefix[8..12]);
        long headerStart = 8 + lengthBytes;
        if (headerLength > 1 << 20 || headerStart + headerLength > fileLength)
            throw new EquivarianceLabException($"{name} is truncated or corrupt: its .npy header claims {headerLength} bytes.");
        var headerBytes = new byte[headerLength];
        ReadAt(handle, headerBytes, headerStart);
        // Version 3.0 headers are UTF-8; 1.0 and 2.0 are Latin-1.
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);

        Dictionary<string, object?> dict;
        try
        {
            dict = PyLiteral.ParseDict(header);
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new EquivarianceLabException($"{name} has a corrupt .npy header ({e.Message}).", e);
        }
        if (!dict.TryGetValue("descr", out var descr) || !dict.TryGetValue("fortran_order", out var fortran) || !dict.TryGetValue("shape", out var shapeValue))
            throw new EquivarianceLabException($"{name} has a corrupt .npy header: it lacks 'descr', 'fortran_order' or 'shape'.");
        if (descr is not string dtype)
            throw new EquivarianceLabException($"{name} holds a structured dtype; probe sets must be float32 ('<f4'): save x.astype(np.float32).");
        if (dtype != "<f4")
            throw new EquivarianceLabException($"{name} holds {DescribeDtype(dtype)} data ('{dtype}'); probe sets must be float32 ('<f4'): save x.astype(np.float32).");
        if (shapeValue is not List<object?> shapeList || shapeList.Any(d => d is not long))
            throw new EquivarianceLabException($"{name} has a corrupt .npy header: 'shape' is not a tuple of integers.");
        var shape = shapeList.Cast<long>().ToArray();
        string shapeText = "(" + string.Join(", ", shape) + (shape.Length == 1 ? ",)" : ")");
        if (shape.Length != 4)
            throw new EquivarianceLabException($"{name} has shape {shapeText}; a probe set must be a rank-4 array [N, C, H, W].");
        if (fortran is true)
            throw new EquivarianceLabException($"{name} is stored in Fortran order; save it in C order: np.save(path, np.ascontiguousarray(x)).");
        if (fortran is not false)
            throw new EquivarianceLabException($"{name} has a corrupt .npy header: 'fortran_order' is not True or False.");
        if (shape[0] == 0)
            throw new EquivarianceLabException($"{name} holds no images (shape {shapeText}).");
        if (shape.Any(d => d <= 0))
            throw new EquivarianceLabException($"{name} has shape {shapeText}; every dimension of an [N, C, H, W] probe set must be positive.");
        if (shape[0] > int.MaxValue)
            throw new EquivarianceLabException($"{name} holds {shape[0]} images; at most {int.MaxValue} are supported.");

        long dataOffset = headerStart + headerLength;
        long needed;
        try
        {
            needed = checked(shape[0] * shape[1] * shape[2] * shape[3] * sizeof(float));
        }
        catch (OverflowException)
        {
            throw new EquivarianceLabException($"{name} has an impossible shape {shapeText}.");
        }
        long available = fileLength - dataOffset;
        if (available < needed)
            throw new EquivarianceLabException($"{name} is truncated: shape {shapeText} needs {needed} bytes of float32 data but the file holds {available}.");
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Reading .npy probe sets needs a little-endian machine.");
        return (dataOffset, shape);
    }

    private static int ReadAt(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer[done..], offset + done);
            if (n == 0) break;
            done += n;
        }
        return done;
    }

    private static string DescribeDtype(string descr)
    {
        if (descr.Length < 2) return "an unknown dtype";
        char order = descr[0];
        string rest = order is '<' or '>' or '=' or '|' ? descr[1..] : descr;
        string kind = rest switch
        {
            "f2" => "float16", "f4" => "float32", "f8" => "float64", "f16" => "float128",
            "i1" => "int8", "i2" => "int16", "i4" => "int32", "i8" => "int64",
            "u1" => "uint8", "u2" => "uint16", "u4" => "uint32", "u8" => "uint64",
            "b1" => "bool", "c8" => "complex64", "c16" => "complex128",
            _ => "non-float32",
        };
        return order == '>' && rest.Length > 0 && rest != "u1" && rest != "i1" && rest != "b1" ? "big-endian " + kind : kind;
    }

    /// <summary>The subset of Python literals a .npy header uses: a dict of strings, booleans, None, integers and tuples/lists.</summary>
    private sealed class PyLiteral
    {
        private readonly string _s;
        private int _i;
        private PyLiteral(string s) => _s = s;

        public static Dictionary<string, object?> ParseDict(string text)
        {
            var p = new PyLiteral(text);
            p.Skip();
            if (p.Parse() is not Dictionary<string, object?> dict) throw new FormatException("not a dict");
            p.Skip();
            if (p._i != p._s.Length) throw new FormatException("text after the dict");
            return dict;
        }

        private void Skip()
        {
            while (_i < _s.Length && char.IsWhiteSpace(_s[_i])) _i++;
        }

        private char Peek() => _i < _s.Length ? _s[_i] : throw new FormatException("unexpected end");

        private object? Parse()
        {
            Skip();
            char c = Peek();
            if (c == '{')
            {
                _i++;
                var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
                while (true)
                {
                    Skip();
                    if (Peek() == '}') { _i++; return dict; }
                    if (Parse() is not string key) throw new FormatException("dict key is not a string");
                    Skip();
                    if (Peek() != ':') throw new FormatException("expected ':'");
                    _i++;
                    dict[key] = Parse();
                    Skip();
                    if (Peek() == ',') _i++;
                    else if (Peek() != '}') throw new FormatException("expected ',' or '}'");
                }
            }
            if (c is '(' or '[')
            {
                char close = c == '(' ? ')' : ']';
                _i++;
                var list = new List<object?>();
                while (true)
                {
                    Skip();
                    if (Peek() == close) { _i++; return list; }
                    list.Add(Parse());
                    Skip();
                    if (Peek() == ',') _i++;
                    else if (Peek() != close) throw new FormatException($"expected ',' or '{close}'");
                }
            }
            if (c is '\'' or '"')
            {
                _i++;
                var sb = new StringBuilder();
                while (Peek() != c)
                {
                    if (_s[_i] == '\\') _i++;
                    sb.Append(Peek());
                    _i++;
                }
                _i++;
                return sb.ToString();
            }
            if (char.IsDigit(c) || c == '-')
            {
                int start = _i++;
                while (_i < _s.Length && char.IsDigit(_s[_i])) _i++;
                var value = long.Parse(_s.AsSpan(start, _i - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                if (_i < _s.Length && _s[_i] is 'L' or 'l') _i++; // Python 2 long suffix in old files
                return value;
            }
            int wordStart = _i;
            while (_i < _s.Length && char.IsLetter(_s[_i])) _i++;
            return _s[wordStart.._i] switch
            {
                "True" => true,
                "False" => false,
                "None" => null,
                var w => throw new FormatException($"unexpected '{(w.Length > 0 ? w : c.ToString())}'"),
            };
        }
    }
}
