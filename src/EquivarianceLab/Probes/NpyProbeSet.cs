using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using TorchSharp;

namespace EquivarianceLab.Probes;

/// <summary>
/// A float32 <c>[N, C, H, W]</c> <c>.npy</c> file (format versions 1.0, 2.0 and 3.0, as numpy writes them), used as
/// the model's input unchanged. Batches are read by positioned reads, so memory does not grow with N. Opening reads
/// only the header; every batch read is checked for NaN and ±Inf, and <see cref="CheckFinite"/> checks the whole file.
/// </summary>
public sealed class NpyProbeSet : IProbeSet
{
    /// <summary>
    /// Largest header accepted. numpy writes headers of a few hundred bytes and itself refuses to read ones over
    /// 10 000 (<c>max_header_size</c>); the format's 4 GiB would let a small file make us allocate and parse gigabytes.
    /// </summary>
    public const int MaxHeaderBytes = 64 * 1024;

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
            // The exception's message would repeat the server path; the file name is enough to act on.
            throw new EquivarianceLabException($"Cannot open probe file {System.IO.Path.GetFileName(path)}: {Messages.FileProblem(e)}.", e);
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
            FiniteValues.Check(batch, start, Name);
            return batch;
        }
        catch
        {
            batch.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the whole file once, in 1 MiB pieces (memory stays flat however large it is), and throws for the first
    /// image holding a NaN or ±Inf: "image 17 contains NaN or infinite values". For validating an upload; a measurement
    /// needs no full pass, since <see cref="ReadBatch"/> checks each batch it reads.
    /// </summary>
    public void CheckFinite(CancellationToken cancellationToken = default)
    {
        long totalBytes = Count * _imageFloats * sizeof(float);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            for (long done = 0; done < totalBytes;)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int want = (int)Math.Min(buffer.Length, totalBytes - done);
                int got = ReadAt(_handle, buffer.AsSpan(0, want), _dataOffset + done);
                if (got < want)
                    throw new EquivarianceLabException($"{Name} is truncated: it ended {totalBytes - done - got} bytes before its declared data.");
                int bad = FiniteValues.FirstNonFinite(MemoryMarshal.Cast<byte, float>(buffer.AsSpan(0, want)));
                if (bad >= 0) throw FiniteValues.NotFinite(Name, (done / sizeof(float) + bad) / _imageFloats);
                done += want;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
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
        if (headerLength > MaxHeaderBytes)
            throw new EquivarianceLabException(
                $"{name} has a .npy header of {headerLength} bytes; headers over {MaxHeaderBytes} bytes are refused (numpy writes a few hundred).");
        if (headerStart + headerLength > fileLength)
            throw new EquivarianceLabException($"{name} is truncated or corrupt: its .npy header claims {headerLength} bytes.");
        var headerBytes = new byte[headerLength];
        ReadAt(handle, headerBytes, headerStart);
        // Version 3.0 headers are UTF-8; 1.0 and 2.0 are Latin-1.
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);

        Dictionary<string, object?> dict;
        try
        {
            dict = NpyHeaderLiteral.ParseDict(header);
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
            throw new EquivarianceLabException($"{name} holds {DescribeDtype(dtype)} data ('{Messages.Untrusted(dtype, 20)}'); probe sets must be float32 ('<f4'): save x.astype(np.float32).");
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

        // Checked against the file's real length before anything is sized from the shape.
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
        if (shape[0] > int.MaxValue)
            throw new EquivarianceLabException($"{name} holds {shape[0]} images; at most {int.MaxValue} are supported.");
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
}
