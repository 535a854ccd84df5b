using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EquivarianceLab.Compute;
using static TorchSharp.torch;

namespace EquivarianceLab.Measure;

/// <summary>
/// The spatial layers' similarities on the CPU at about the cost of reading the features once (docs/measure.md,
/// "How the similarities are computed"). For each image, channel c of f(gX) is centred and scaled to unit length as it
/// is written into a small scratch block (for long vectors a chunk of positions at a time); then a register-blocked
/// product with the reference's unit vectors (laid out position-major once per batch, and read row by row in the order
/// g puts the positions in, which is the same as moving f(gX) back by g⁻¹) keeps, for each c, only the running max
/// over c′, its argmax and the c′ = c value. The C×C′ similarities are never written to memory: on small grids
/// (ResNet's last stage: 2×2 positions, 512 channels) writing and re-reading them cost several times the products
/// themselves. Each image is one task (a single image, parts of its channels), and the tasks depend on the shapes
/// only, so results do not depend on the thread count.
/// The numbers are those of <see cref="Similarity.Accumulate"/> up to float rounding (a different summation order).
/// The tile loops are written out once per register width and tile shape on purpose: a shared helper would pass the
/// sixteen accumulators through memory instead of registers.
/// </summary>
public static class SimilarityKernel
{
    /// <summary>Whether this processor has the 256-bit vectors and fused multiply-add the kernel is written for.</summary>
    public static bool Supported => Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported;

    /// <summary>
    /// On by default. Off, spatial layers go through <see cref="Similarity.Accumulate"/>'s batched product: the tests
    /// and <c>eqlab bench</c> compare the two paths.
    /// </summary>
    public static bool Enabled { get; set; } = true;

    /// <summary>Whether the kernel serves CPU tensors in this process: switched on and supported by the processor.</summary>
    public static bool Active => Enabled && Supported;

    /// <summary>
    /// Whether the products use 512-bit registers (only where the processor has them; the 256-bit tiles otherwise).
    /// Settable so the tests run both tile shapes on a machine that has both.
    /// </summary>
    public static bool WideVectors
    {
        get => _wide && Vector512.IsHardwareAccelerated;
        set => _wide = value;
    }

    private static bool _wide = true;

    private const int Rows = 4, Columns = 2 * 8; // the register tile: 4 channels of f(gX) × 16 of the reference

    /// <summary>
    /// One batch's reference f(X) of a spatial layer, as unit vectors laid out for the kernel: per image an
    /// <c>[L, C′]</c> block (positions outer, channels padded to a multiple of 32, rows skewed: <see cref="RowOffset"/>) and a bias per channel that is 0
    /// for a valid vector and −∞ for a degenerate or padding one (so it never wins a max).
    /// </summary>
    public sealed class Reference
    {
        internal float[] Packed { get; private set; } = [];
        /// <summary>Where <see cref="Packed"/>'s cache-aligned part starts (<see cref="CacheAligned"/>).</summary>
        internal int PackedStart { get; private set; }
        internal float[] Bias { get; private set; } = [];
        internal bool[] AnyValid { get; private set; } = [];
        internal bool[] Valid { get; private set; } = [];
        public SimilarityKind Kind { get; private set; }
        public int Images { get; private set; }
        public int Channels { get; private set; }
        public int Length { get; private set; }
        internal int PaddedChannels { get; private set; }

        /// <summary>Floats the packed array holds: a reference whose arrays are idle can serve a layer up to that size without new memory.</summary>
        internal int Capacity => Packed.Length - PackedStart;

        /// <summary>Floats from one image's block to the next: its <see cref="Length"/> rows with their skew (<see cref="RowOffset"/>).</summary>
        internal int BlockFloats => RowOffset(Length, PaddedChannels);

        /// <summary>
        /// Each transform's row offsets (<see cref="RowsThrough"/>), made on its first batch and read by every later one:
        /// they depend on the gather and this layer's shape only. Made anew each batch, the ImageNet ResNet-18's were
        /// 3.7 MB a rotation run, its early layers' each large enough for the large-object heap, whose budget then
        /// started full garbage collections during the measurement. Keyed weakly by the gather array itself: the
        /// measure passes one array per transform for the whole run, and a caller that makes a new gather every batch
        /// leaves nothing behind once it drops the array.
        /// </summary>
        private readonly ConditionalWeakTable<int[], nint[]> _rowsByInverse = new();

        /// <summary>Hands the arrays to <see cref="RecycledArrays"/> for the process's next measurement; the reference is empty after.</summary>
        public void Recycle()
        {
            RecycledArrays.Shared.Return(Packed, pinned: true);
            RecycledArrays.Shared.Return(Bias);
            (Packed, PackedStart, Bias, Images) = ([], 0, [], 0);
            _rowsByInverse.Clear();
        }

        /// <summary>
        /// Where each position p of f(gX) finds its partner row of this reference: Σ_q (g⁻¹a)[q]·b[q] = Σ_p a[p]·b[π(p)]
        /// with π the inverse of the gather, so f(gX) is read in its own order and the reference's rows through π, and
        /// no element of f(gX) is gathered (rows of the reference are contiguous runs of C′ floats; a gather of f(gX)
        /// reads one float per index). Called from one thread, before a kernel loop.
        /// </summary>
        internal nint[] RowsThrough(int[] inverse)
        {
            if (_rowsByInverse.TryGetValue(inverse, out var known)) return known;
            var rows = new nint[Length];
            for (int q = 0; q < Length; q++) rows[inverse[q]] = RowOffset(q, PaddedChannels);
            _rowsByInverse.AddOrUpdate(inverse, rows);
            return rows;
        }

        /// <param name="features">f(X) as <c>[n, C, L]</c> float32 on the CPU, unnormalised: each vector is centred (pearson) and
        /// scaled to unit length here, deciding degenerate vectors as <see cref="Similarity.NormalizeInPlace"/> does.</param>
        public Reference(Tensor features, SimilarityKind kind) => FillAll([(this, features)], kind);

        /// <summary>An empty reference, for <see cref="FillAll"/>.</summary>
        public Reference() { }

        /// <summary>
        /// Takes the next batch's f(X) for each of several layers' references, reusing their arrays (a layer keeps one
        /// for the whole run), in one parallel loop over all their images (<see cref="ComputeThreads.ForEachTask"/>).
        /// </summary>
        public static void FillAll(IReadOnlyList<(Reference Reference, Tensor Features)> layers, SimilarityKind kind)
        {
            var values = new Tensor[layers.Count];
            var addresses = new IntPtr[layers.Count];
            try
            {
                for (int k = 0; k < layers.Count; k++)
                {
                    values[k] = layers[k].Reference.Resize(layers[k].Features, kind);
                    addresses[k] = TensorMemory.AddressOf(values[k]);
                }
                ComputeThreads.ForEachTask([.. layers.Select(layer => layer.Reference.Images)], (k, i) =>
                {
                    var reference = layers[k].Reference;
                    int size = reference.Channels * reference.Length;
                    reference.PackImage(NativeSpan(addresses[k], (long)i * size, size), i);
                });
            }
            finally
            {
                foreach (var tensor in values) tensor?.Dispose();
            }
        }

        /// <summary>Sizes the arrays for <paramref name="features"/>; returns its values as contiguous float32 (the caller disposes them).</summary>
        private Tensor Resize(Tensor features, SimilarityKind kind)
        {
            Kind = kind;
            Images = checked((int)features.shape[0]);
            Channels = checked((int)features.shape[1]);
            int length = checked((int)features.shape[2]), paddedChannels = RoundUp(Channels, 2 * Columns); // whole 512-bit tiles for the chunked products
            if (length != Length || paddedChannels != PaddedChannels) _rowsByInverse.Clear();
            (Length, PaddedChannels) = (length, paddedChannels);
            int c = Channels, l = Length, cp = PaddedChannels;
            if (Packed.Length - PackedStart < checked(Images * BlockFloats))
            {
                RecycledArrays.Shared.Return(Packed, pinned: true);
                (Packed, PackedStart) = CacheAligned(Images * BlockFloats);
            }
            if (Bias.Length < Images * cp)
            {
                RecycledArrays.Shared.Return(Bias);
                Bias = RecycledArrays.Shared.Rent<float>(Images * cp);
            }
            if (Valid.Length < Images * c) Valid = new bool[Images * c];
            if (AnyValid.Length < Images) AnyValid = new bool[Images];
            return features.to_type(ScalarType.Float32).contiguous();
        }

        /// <summary>
        /// Finds the mean and scale of <see cref="PackGroup"/> channels at a time, then writes their unit vectors
        /// position-major: each position's group is one run of 16 floats (a cache line). A whole group is written a
        /// position at a time from gathers (<see cref="PackGroupGathered"/>); a last, smaller group (or a processor
        /// without AVX2) channel by channel in tiles of <see cref="PackTile"/> positions, whose lines stay in L1 while
        /// the group's channels are written into them (without the tiles every value went to a different cache line).
        /// The unit values are computed where they are written (no normalised copy in between).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void PackImage(ReadOnlySpan<float> image, int i)
        {
            int c = Channels, l = Length, cp = PaddedChannels;
            var block = Packed.AsSpan(PackedStart + i * BlockFloats, BlockFloats);
            var bias = Bias.AsSpan(i * cp, cp);
            bias.Fill(float.NegativeInfinity);
            AnyValid[i] = false;
            if (cp > c)
                for (int q = 0; q < l; q++) block.Slice(RowOffset(q, cp) + c, cp - c).Clear();
            ref float to = ref MemoryMarshal.GetReference(block);
            ref float from = ref MemoryMarshal.GetReference(image);
            Span<float> means = stackalloc float[PackGroup], scales = stackalloc float[PackGroup];
            for (int first = 0; first < c; first += PackGroup)
            {
                int group = Math.Min(PackGroup, c - first);
                for (int j = 0; j < group; j++)
                {
                    int ch = first + j;
                    var (mean, scale, ok) = Moments(image.Slice(ch * l, l), Kind);
                    Valid[i * c + ch] = ok;
                    // A degenerate vector has scale 0 and is written as zero; −∞ keeps it out of every max.
                    (means[j], scales[j]) = (mean, scale);
                    if (!ok) continue;
                    bias[ch] = 0f;
                    AnyValid[i] = true;
                }
                if (group == PackGroup && Avx2.IsSupported)
                {
                    PackGroupGathered(ref Unsafe.Add(ref from, first * l), ref Unsafe.Add(ref to, first), l, cp, means, scales);
                    continue;
                }
                for (int q0 = 0; q0 < l; q0 += PackTile)
                {
                    int q1 = Math.Min(l, q0 + PackTile);
                    for (int j = 0; j < group; j++)
                    {
                        ref float source = ref Unsafe.Add(ref from, (first + j) * l);
                        ref float column = ref Unsafe.Add(ref to, first + j);
                        float mean = means[j], scale = scales[j];
                        if (scale == 0f)
                        {
                            for (int q = q0; q < q1; q++) Unsafe.Add(ref column, RowOffset(q, cp)) = 0f;
                            continue;
                        }
                        for (int q = q0; q < q1; q++)
                        {
                            float v = Unsafe.Add(ref source, q) - mean;
                            Unsafe.Add(ref column, RowOffset(q, cp)) = v * scale;
                        }
                    }
                }
            }
        }
    }

    private const int PackGroup = 16, PackTile = 64;

    /// <summary>
    /// Where position q's row of C′ floats starts in an image's block: after every 16 rows one cache line is left
    /// unused. Without that skew, a rotation reads successive rows a whole grid row apart, and a grid row of these
    /// blocks is often a multiple of 2 or 4 KiB: 28 KiB at the ImageNet ResNet-18's stem (112 × 64 floats), 14 KiB at
    /// each later stage (56 × 64 … 7 × 512), 4 KiB at every spatial layer of the 64×64 ResNet-18. A chunk's rows then sat
    /// at one or two offsets within a page, in the same few sets of the 8-way L1 cache, and evicted each other before
    /// their reuse. With the skew, successive grid rows move to other sets. In a microbenchmark of the kernel on those
    /// shapes (a Zen 3, one thread) it took 10–25% less time. Costs one line per 16 rows: 1.6% of a 64-channel block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int RowOffset(int q, int cp) => q * cp + (q >> 4) * 16;

    /// <summary>
    /// A whole group's unit values, one position at a time: two gathers take the sixteen channels' values at that
    /// position and one line of the block is written (element by element, that took about three cycles a value). The
    /// arithmetic is the scalar path's, (x − mean) · scale per value, and a degenerate channel (scale 0) is zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackGroupGathered(ref float source, ref float line, int l, int cp, ReadOnlySpan<float> means, ReadOnlySpan<float> scales)
    {
        var index = Vector256.Create(0, l, 2 * l, 3 * l, 4 * l, 5 * l, 6 * l, 7 * l);
        var mean0 = Vector256.Create(means[..8]);
        var mean1 = Vector256.Create(means[8..16]);
        var scale0 = Vector256.Create(scales[..8]);
        var scale1 = Vector256.Create(scales[8..16]);
        var keep0 = ~Vector256.Equals(scale0, Vector256<float>.Zero);
        var keep1 = ~Vector256.Equals(scale1, Vector256<float>.Zero);
        fixed (float* first = &source)
        {
            float* second = first + 8 * l;
            for (int q = 0; q < l; q++)
            {
                var x0 = Avx2.GatherVector256(first + q, index, 4);
                var x1 = Avx2.GatherVector256(second + q, index, 4);
                nuint at = (nuint)RowOffset(q, cp);
                (((x0 - mean0) * scale0) & keep0).StoreUnsafe(ref line, at);
                (((x1 - mean1) * scale1) & keep1).StoreUnsafe(ref line, at + 8);
            }
        }
    }

    /// <summary>
    /// Accumulates the invariance S(g⁻¹f(gX)_c, f(X)_c) and the equivariance max over valid c′ of
    /// S(g⁻¹f(gX)_c, f(X)_c′) of every image into <paramref name="into"/>, as <see cref="Similarity.Accumulate"/> does.
    /// </summary>
    /// <param name="moved">f(gX) as <c>[n, C, L]</c> float32 on the CPU, unnormalised, not yet moved back.</param>
    /// <param name="inverse">g⁻¹ as a gather: position q of g⁻¹·f is position <c>inverse[q]</c> of f.</param>
    /// <param name="choices">When given, filled with each image and channel's argmax c′, its similarity and the c′ = c
    /// similarity (<see cref="ChannelChoices"/>; −1 and NaN where there is none).</param>
    public static void Accumulate(Tensor moved, int[] inverse, Reference reference, ScoreAccumulator into, ChannelChoices? choices = null) =>
        Accumulate([new Comparison(moved, inverse, reference, into, choices)]);

    /// <summary>One layer's part of a transform's similarities: the arguments of the single-layer <see cref="Accumulate(Tensor, int[], Reference, ScoreAccumulator, ChannelChoices?)"/>.</summary>
    public sealed record Comparison(Tensor Moved, int[] Inverse, Reference Reference, ScoreAccumulator Into, ChannelChoices? Choices = null);

    /// <summary>
    /// Several layers' similarities in one parallel loop over all their tasks. The measure's other threads sleep
    /// during a forward pass, and waking them took about half a millisecond a loop on a 2-vCPU VM, as long as a small
    /// layer's whole kernel call (docs/performance.md); one loop per transform wakes them once. Each layer's sums are
    /// added in the order a call of its own adds them, so the numbers do not change.
    /// </summary>
    public static void Accumulate(IReadOnlyList<Comparison> comparisons)
    {
        var layers = new LayerTasks[comparisons.Count];
        try
        {
            for (int k = 0; k < layers.Length; k++) layers[k] = new LayerTasks(comparisons[k]);
            ComputeThreads.ForEachTask([.. layers.Select(layer => layer.Count)], (k, task) => layers[k].Run(task));
            foreach (var layer in layers) layer.AddTo();
        }
        finally
        {
            foreach (var layer in layers) layer?.Values.Dispose();
        }
    }

    /// <summary>
    /// One layer's tasks: each image is a task; a single image (a vector layer: its positions are the N images) is
    /// split into parts of its channels instead, so it does not run on one thread. The parts depend on C only, and
    /// their sums are added in order, so results do not depend on the thread count.
    /// </summary>
    private sealed class LayerTasks
    {
        private readonly Comparison _comparison;
        private readonly IntPtr _address;
        private readonly nint[] _rows;
        private readonly int _partRows, _parts;
        private readonly double[] _invSums, _invCounts, _eqSums, _eqCounts;

        /// <summary>f(gX) as contiguous float32: read through a pointer by the tasks, disposed after them.</summary>
        public Tensor Values { get; }
        public int Count { get; }

        public LayerTasks(Comparison comparison)
        {
            var (moved, inverse, reference, _, choices) = comparison;
            int n = reference.Images, c = reference.Channels, l = reference.Length;
            if (moved.shape[0] != n || moved.shape[1] != c || moved.shape[2] != l || inverse.Length != l)
                throw new ArgumentException($"f(gX) [{string.Join(",", moved.shape)}] does not match the reference [{n},{c},{l}].", nameof(comparison));
            _comparison = comparison;
            Values = moved.to_type(ScalarType.Float32).contiguous();
            _address = TensorMemory.AddressOf(Values);
            _rows = reference.RowsThrough(inverse);
            _partRows = n == 1 ? PartRows : c;
            _parts = (c + _partRows - 1) / _partRows;
            Count = n * _parts;
            _invSums = new double[Count];
            _invCounts = new double[Count];
            _eqSums = new double[Count];
            _eqCounts = new double[Count];
            choices?.Resize(n, c);
        }

        /// <summary>This layer's task <paramref name="task"/>: one image, or one part of a single image's channels.</summary>
        public void Run(int task)
        {
            var reference = _comparison.Reference;
            int c = reference.Channels, l = reference.Length;
            int i = task / _parts, first = task % _parts * _partRows;
            var scratch = Scratch.For(c, l, reference.PaddedChannels);
            var image = NativeSpan(_address, (long)i * c * l, c * l);
            Image(image, _rows, reference, i, first, Math.Min(c, first + _partRows), scratch, _comparison.Choices);
            _invSums[task] = scratch.InvSum; _invCounts[task] = scratch.InvCount;
            _eqSums[task] = scratch.EqSum; _eqCounts[task] = scratch.EqCount;
        }

        /// <summary>The tasks' sums into the layer's accumulator, in task order.</summary>
        public void AddTo()
        {
            double[] invSums = _invSums, invCounts = _invCounts, eqSums = _eqSums, eqCounts = _eqCounts;
            if (_parts > 1)
            {
                // One image: its parts' sums, in order.
                invSums = [invSums.Sum()]; invCounts = [invCounts.Sum()];
                eqSums = [eqSums.Sum()]; eqCounts = [eqCounts.Sum()];
            }
            var into = _comparison.Into;
            into.Add(invSums.Sum(), (long)invCounts.Sum(), eqSums.Sum(), (long)eqCounts.Sum());
            if (into.KeepsImages) into.AddImages(invSums, invCounts, eqSums, eqCounts);
        }
    }

    /// <summary>Channels per task when a single image is split (a multiple of 32, so no register tile spans two parts).</summary>
    private const int PartRows = 128;

    private static unsafe Span<float> NativeSpan(IntPtr address, long offset, int length) =>
        new((float*)address + offset, length);

    /// <summary>
    /// Per-thread buffers: the row results and validity; for short vectors the current image's unit vectors; for long
    /// vectors each row's mean and scale, the panel a chunk is normalised into and the partial products. Kept per
    /// thread and only regrown, so batches do not allocate (large arrays would each cost a full garbage collection).
    /// </summary>
    private sealed class Scratch
    {
        [ThreadStatic] private static Scratch? _cached;

        public float[] Unit = [], Partial = [], Best = [], Diagonal = [], Mean = [], Scale = [];
        public int PartialStart;
        public readonly float[] Panel = new float[WideRows * PanelStride];
        public bool[] Valid = [];
        public int[] Argmax = [];
        public double InvSum, InvCount, EqSum, EqCount;

        public static Scratch For(int channels, int length, int paddedChannels)
        {
            var s = _cached ??= new Scratch();
            if (length >= ChunkedFrom)
            {
                int sums = RowsPerPass(channels, paddedChannels) * paddedChannels;
                if (s.Partial.Length - s.PartialStart < sums) (s.Partial, s.PartialStart) = CacheAligned(sums);
                Grow(ref s.Mean, channels);
                Grow(ref s.Scale, channels);
            }
            else
            {
                // Whole blocks of eight rows (RowBlock512 reads rows past the last channel; they are never stored).
                Grow(ref s.Unit, RoundUp(channels, WideRows) * ShortStride);
            }
            Grow(ref s.Best, channels);
            Grow(ref s.Diagonal, channels);
            Grow(ref s.Valid, channels);
            Grow(ref s.Argmax, channels);
            return s;
        }

        private static void Grow<T>(ref T[] array, int length)
        {
            if (array.Length < length) array = new T[length];
        }
    }

    /// <summary>
    /// A pinned array with room for <paramref name="length"/> floats from <c>Start</c>, an index whose address is a
    /// multiple of 64 bytes: the 512-bit loads and stores of the reference and the sums then never straddle two cache
    /// lines (an array's data starts 16 bytes into its object; split loads made ResNet's 7×7 layers a third slower).
    /// </summary>
    private static unsafe (float[] Array, int Start) CacheAligned(int length)
    {
        var array = RecycledArrays.Shared.Rent<float>(length + 16, pinned: true);
        int misalignment = (int)((nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array)) & 63);
        return (array, (64 - misalignment) % 64 / sizeof(float));
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>
    /// Channels <paramref name="first"/>…<paramref name="last"/> − 1 of image i: their unit vectors, their max, argmax and
    /// c′ = c similarities against every reference channel, and their sums in the scratch's totals.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image(ReadOnlySpan<float> image, nint[] rows, Reference reference, int i, int first, int last, Scratch s, ChannelChoices? choices)
    {
        int c = reference.Channels, l = reference.Length, cp = reference.PaddedChannels;
        var packed = reference.Packed.AsSpan(reference.PackedStart + i * reference.BlockFloats, reference.BlockFloats);
        var bias = reference.Bias.AsSpan(i * cp, cp);
        if (l >= ChunkedFrom)
        {
            Chunked(image, reference.Kind, s, first, last, l, cp, packed, bias, rows);
        }
        else
        {
            for (int ch = first; ch < last; ch++)
                s.Valid[ch] = Normalize(image.Slice(ch * l, l), s.Unit.AsSpan(ch * ShortStride, l), reference.Kind);
            if (WideVectors)
            {
                for (int c0 = first; c0 < last; c0 += WideRows) RowBlock512(s, c0, last, l, cp, packed, bias, rows, choices is not null);
            }
            else
            {
                for (int c0 = first; c0 < last; c0 += Rows) RowBlock(s, c0, last, l, cp, packed, bias, rows, choices is not null);
            }
        }

        s.InvSum = s.InvCount = s.EqSum = s.EqCount = 0;
        var refValid = reference.Valid.AsSpan(i * c, c);
        bool anyValid = reference.AnyValid[i];
        for (int ch = first; ch < last; ch++)
        {
            bool rowValid = s.Valid[ch], paired = rowValid && refValid[ch], matched = rowValid && anyValid;
            // Clamped to [−1, 1] as in Similarity.Accumulate (float rounding can pass 1 by about 1e-6).
            float diagonal = Math.Clamp(s.Diagonal[ch], -1f, 1f), best = Math.Clamp(s.Best[ch], -1f, 1f);
            if (paired) { s.InvSum += diagonal; s.InvCount++; }
            if (matched) { s.EqSum += best; s.EqCount++; }
            if (choices is not null)
            {
                int k = i * c + ch;
                choices.Partner[k] = matched ? s.Argmax[ch] : -1;
                choices.Best[k] = matched ? best : float.NaN;
                choices.Diagonal[k] = paired ? diagonal : float.NaN;
            }
        }
    }

    /// <summary>
    /// Each row of <paramref name="rows"/> (rows of <paramref name="length"/> values, one after another) centred
    /// (pearson) and scaled to unit length in place, degenerate rows set to zero, as <see cref="Similarity.NormalizeInPlace"/>
    /// decides them; <paramref name="valid"/>[r] says whether row r is valid. In plain loops: a vector layer's
    /// [C, N] values took a dozen tensor operations each (each a pass over them and a wake of libtorch's threads),
    /// as long as the kernel's products with them.
    /// </summary>
    internal static void NormalizeRows(Span<float> rows, int length, SimilarityKind kind, Span<bool> valid)
    {
        if (rows.Length != (long)valid.Length * length)
            throw new ArgumentException($"{rows.Length} values are not {valid.Length} rows of {length}.", nameof(rows));
        for (int r = 0; r < valid.Length; r++)
        {
            var row = rows.Slice(r * length, length);
            valid[r] = Normalize(row, row, kind); // WriteUnit reads each value before it writes it
        }
    }

    /// <summary>
    /// Writes x into <paramref name="unit"/>, centred (pearson) and scaled to unit length, exactly as
    /// <see cref="Similarity.NormalizeInPlace"/> decides degenerate vectors (which become zero). Returns validity.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Normalize(ReadOnlySpan<float> x, Span<float> unit, SimilarityKind kind)
    {
        var (mean, scale, valid) = Moments(x, kind);
        WriteUnit(x, unit, mean, scale);
        return valid;
    }

    /// <summary>
    /// x's mean (0 for cosine), the factor that scales x − mean to unit length (0 for a degenerate vector) and
    /// validity, from two reads of x and no writes: x − mean is computed again where the unit vector is written, with
    /// the same float operations, so the unit vector is the one a centred copy scaled in place would hold.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float Mean, float Scale, bool Valid) Moments(ReadOnlySpan<float> x, SimilarityKind kind)
    {
        int l = x.Length;
        float mean = kind == SimilarityKind.Pearson ? (float)(Sum(x) / l) : 0f;
        double squares = CentredSquares(x, mean);
        bool valid;
        if (kind == SimilarityKind.Pearson)
        {
            // |x|² = |x − x̄|² + L·x̄², as Similarity.NormalizeInPlace decides it.
            double raw = squares + (double)l * mean * mean;
            valid = raw > 0 && squares > raw * (Similarity.DegenerateTolerance * Similarity.DegenerateTolerance);
        }
        else
        {
            valid = squares > 0;
        }
        return (mean, valid ? (float)(1 / Math.Max(Math.Sqrt(squares), 1e-30)) : 0f, valid);
    }

    /// <summary>Σx, in float lanes of sixteen and eight, then the tail in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Sum(ReadOnlySpan<float> x)
    {
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        int q = 0, l = x.Length;
        ref float from = ref MemoryMarshal.GetReference(x);
        for (; q + 16 <= l; q += 16)
        {
            acc0 += Vector256.LoadUnsafe(ref from, (nuint)q);
            acc1 += Vector256.LoadUnsafe(ref from, (nuint)q + 8);
        }
        for (; q + 8 <= l; q += 8) acc0 += Vector256.LoadUnsafe(ref from, (nuint)q);
        double sum = Vector256.Sum(acc0 + acc1);
        for (; q < l; q++) sum += Unsafe.Add(ref from, q);
        return sum;
    }

    /// <summary>Σ(x − mean)², x read only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double CentredSquares(ReadOnlySpan<float> x, float mean)
    {
        var m = Vector256.Create(mean);
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        ref float start = ref MemoryMarshal.GetReference(x);
        int q = 0;
        for (; q + 16 <= x.Length; q += 16)
        {
            var v0 = Vector256.LoadUnsafe(ref start, (nuint)q) - m;
            var v1 = Vector256.LoadUnsafe(ref start, (nuint)q + 8) - m;
            acc0 = Vector256.FusedMultiplyAdd(v0, v0, acc0);
            acc1 = Vector256.FusedMultiplyAdd(v1, v1, acc1);
        }
        for (; q + 8 <= x.Length; q += 8)
        {
            var v = Vector256.LoadUnsafe(ref start, (nuint)q) - m;
            acc0 = Vector256.FusedMultiplyAdd(v, v, acc0);
        }
        double squares = Vector256.Sum(acc0 + acc1);
        for (; q < x.Length; q++)
        {
            float v = x[q] - mean;
            squares += (double)v * v;
        }
        return squares;
    }

    /// <summary>unit = (x − mean) · scale: x − mean rounded to float first, as in a centred copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteUnit(ReadOnlySpan<float> x, Span<float> unit, float mean, float scale)
    {
        var m = Vector256.Create(mean);
        var f = Vector256.Create(scale);
        ref float from = ref MemoryMarshal.GetReference(x);
        ref float to = ref MemoryMarshal.GetReference(unit);
        int q = 0;
        for (; q + 8 <= x.Length; q += 8) ((Vector256.LoadUnsafe(ref from, (nuint)q) - m) * f).StoreUnsafe(ref to, (nuint)q);
        for (; q < x.Length; q++)
        {
            float v = x[q] - mean;
            unit[q] = v * scale;
        }
    }

    /// <summary>
    /// Rows c0…c0+3 against every reference channel: 4×16 dot products held in eight registers over the positions,
    /// then folded into each row's running max and argmax (ties go to the smaller c′) and its c′ = c value.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBlock(Scratch s, int c0, int c, int l, int cp, ReadOnlySpan<float> packed, ReadOnlySpan<float> bias, nint[] rows, bool argmax)
    {
        // Rows past the last channel repeat it; their results are not stored.
        ref float r0 = ref s.Unit[c0 * ShortStride];
        ref float r1 = ref s.Unit[Math.Min(c0 + 1, c - 1) * ShortStride];
        ref float r2 = ref s.Unit[Math.Min(c0 + 2, c - 1) * ShortStride];
        ref float r3 = ref s.Unit[Math.Min(c0 + 3, c - 1) * ShortStride];
        ref float b = ref MemoryMarshal.GetReference(packed);
        ref float bi = ref MemoryMarshal.GetReference(bias);
        ref nint rowOf = ref MemoryMarshal.GetArrayDataReference(rows);
        var best0 = Vector256.Create(float.NegativeInfinity);
        var best1 = best0; var best2 = best0; var best3 = best0;
        var arg0 = Vector256<int>.Zero;
        var arg1 = arg0; var arg2 = arg0; var arg3 = arg0;
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        Span<float> spill = stackalloc float[Columns];

        for (int j0 = 0; j0 < cp; j0 += Columns)
        {
            Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default,
                             a20 = default, a21 = default, a30 = default, a31 = default;
            ref float strip = ref Unsafe.Add(ref b, j0);
            for (nint q = 0; q < l; q++)
            {
                ref float row = ref Unsafe.Add(ref strip, Unsafe.Add(ref rowOf, q));
                var b0 = Vector256.LoadUnsafe(ref row);
                var b1 = Vector256.LoadUnsafe(ref row, 8);
                var x = Vector256.Create(Unsafe.Add(ref r0, q));
                a00 = Vector256.FusedMultiplyAdd(x, b0, a00); a01 = Vector256.FusedMultiplyAdd(x, b1, a01);
                x = Vector256.Create(Unsafe.Add(ref r1, q));
                a10 = Vector256.FusedMultiplyAdd(x, b0, a10); a11 = Vector256.FusedMultiplyAdd(x, b1, a11);
                x = Vector256.Create(Unsafe.Add(ref r2, q));
                a20 = Vector256.FusedMultiplyAdd(x, b0, a20); a21 = Vector256.FusedMultiplyAdd(x, b1, a21);
                x = Vector256.Create(Unsafe.Add(ref r3, q));
                a30 = Vector256.FusedMultiplyAdd(x, b0, a30); a31 = Vector256.FusedMultiplyAdd(x, b1, a31);
            }
            var bias0 = Vector256.LoadUnsafe(ref bi, (nuint)j0);
            var bias1 = Vector256.LoadUnsafe(ref bi, (nuint)j0 + 8);
            if (argmax)
            {
                var index0 = lane + Vector256.Create(j0);
                var index1 = index0 + Vector256.Create(8);
                Fold(a00 + bias0, a01 + bias1, index0, index1, ref best0, ref arg0);
                Fold(a10 + bias0, a11 + bias1, index0, index1, ref best1, ref arg1);
                Fold(a20 + bias0, a21 + bias1, index0, index1, ref best2, ref arg2);
                Fold(a30 + bias0, a31 + bias1, index0, index1, ref best3, ref arg3);
            }
            else
            {
                // Without the argmax, the running max alone (the score's only need).
                best0 = Vector256.Max(best0, Vector256.Max(a00 + bias0, a01 + bias1));
                best1 = Vector256.Max(best1, Vector256.Max(a10 + bias0, a11 + bias1));
                best2 = Vector256.Max(best2, Vector256.Max(a20 + bias0, a21 + bias1));
                best3 = Vector256.Max(best3, Vector256.Max(a30 + bias0, a31 + bias1));
            }
            // The c′ = c value, when this tile holds it (the same number the max saw).
            for (int r = 0; r < Rows && c0 + r < c; r++)
            {
                int d = c0 + r - j0;
                if ((uint)d >= Columns) continue;
                var (lo, hi) = r switch { 0 => (a00, a01), 1 => (a10, a11), 2 => (a20, a21), _ => (a30, a31) };
                lo.StoreUnsafe(ref MemoryMarshal.GetReference(spill));
                hi.StoreUnsafe(ref MemoryMarshal.GetReference(spill), 8);
                s.Diagonal[c0 + r] = spill[d];
            }
        }
        Finish(s, c0, c, best0, arg0, 0);
        Finish(s, c0, c, best1, arg1, 1);
        Finish(s, c0, c, best2, arg2, 2);
        Finish(s, c0, c, best3, arg3, 3);
    }

    /// <summary>
    /// <see cref="RowBlock"/> for eight rows, in 8×32 tiles of 512-bit registers: sixteen sums in registers, so each
    /// position's two loads of the reference feed sixteen multiply-adds (4×32 tiles ran ResNet's 7×7 layers at about
    /// half the rate of the chunked path's products on a Zen 5). The unit rows are <see cref="ShortStride"/> floats
    /// apart, so one pointer addresses all eight; rows past the last channel hold whatever the buffer held, and their
    /// results are not stored. Folded in 512-bit registers too: on short vectors (ResNet's last stage, 4 positions) the
    /// max and argmax cost more than the products, so each 16 similarities take one compare and two masked selects. The
    /// accumulators start at the bias (0 or −∞), which gives the sums plus the bias exactly as adding it after them would.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBlock512(Scratch s, int c0, int c, int l, int cp, ReadOnlySpan<float> packed, ReadOnlySpan<float> bias, nint[] rows, bool argmax)
    {
        ref float unit = ref s.Unit[c0 * ShortStride];
        ref float b = ref MemoryMarshal.GetReference(packed);
        ref float bi = ref MemoryMarshal.GetReference(bias);
        ref nint rowOf = ref MemoryMarshal.GetArrayDataReference(rows);
        var best0 = Vector512.Create(float.NegativeInfinity);
        var best1 = best0; var best2 = best0; var best3 = best0; var best4 = best0; var best5 = best0; var best6 = best0; var best7 = best0;
        var arg0 = Vector512<int>.Zero;
        var arg1 = arg0; var arg2 = arg0; var arg3 = arg0; var arg4 = arg0; var arg5 = arg0; var arg6 = arg0; var arg7 = arg0;
        var index0 = Vector512<int>.Indices;
        var step = Vector512.Create(2 * Columns);
        int diagonalTile = c0 / (2 * Columns) * (2 * Columns); // rows c0…c0+7 lie in one tile: 32 is a multiple of 8
        Span<float> spill = stackalloc float[2 * Columns];

        for (int j0 = 0; j0 < cp; j0 += 2 * Columns, index0 += step)
        {
            var bias0 = Vector512.LoadUnsafe(ref bi, (nuint)j0);
            var bias1 = Vector512.LoadUnsafe(ref bi, (nuint)j0 + 16);
            Vector512<float> a00 = bias0, a01 = bias1, a10 = bias0, a11 = bias1, a20 = bias0, a21 = bias1, a30 = bias0, a31 = bias1,
                             a40 = bias0, a41 = bias1, a50 = bias0, a51 = bias1, a60 = bias0, a61 = bias1, a70 = bias0, a71 = bias1;
            for (int q = 0; q < l; q++)
            {
                nuint offset = (nuint)(Unsafe.Add(ref rowOf, q) + j0);
                var b0 = Vector512.LoadUnsafe(ref b, offset);
                var b1 = Vector512.LoadUnsafe(ref b, offset + 16);
                ref float at = ref Unsafe.Add(ref unit, q);
                var x = Vector512.Create(at);
                a00 = Vector512.FusedMultiplyAdd(x, b0, a00); a01 = Vector512.FusedMultiplyAdd(x, b1, a01);
                x = Vector512.Create(Unsafe.Add(ref at, ShortStride));
                a10 = Vector512.FusedMultiplyAdd(x, b0, a10); a11 = Vector512.FusedMultiplyAdd(x, b1, a11);
                x = Vector512.Create(Unsafe.Add(ref at, 2 * ShortStride));
                a20 = Vector512.FusedMultiplyAdd(x, b0, a20); a21 = Vector512.FusedMultiplyAdd(x, b1, a21);
                x = Vector512.Create(Unsafe.Add(ref at, 3 * ShortStride));
                a30 = Vector512.FusedMultiplyAdd(x, b0, a30); a31 = Vector512.FusedMultiplyAdd(x, b1, a31);
                x = Vector512.Create(Unsafe.Add(ref at, 4 * ShortStride));
                a40 = Vector512.FusedMultiplyAdd(x, b0, a40); a41 = Vector512.FusedMultiplyAdd(x, b1, a41);
                x = Vector512.Create(Unsafe.Add(ref at, 5 * ShortStride));
                a50 = Vector512.FusedMultiplyAdd(x, b0, a50); a51 = Vector512.FusedMultiplyAdd(x, b1, a51);
                x = Vector512.Create(Unsafe.Add(ref at, 6 * ShortStride));
                a60 = Vector512.FusedMultiplyAdd(x, b0, a60); a61 = Vector512.FusedMultiplyAdd(x, b1, a61);
                x = Vector512.Create(Unsafe.Add(ref at, 7 * ShortStride));
                a70 = Vector512.FusedMultiplyAdd(x, b0, a70); a71 = Vector512.FusedMultiplyAdd(x, b1, a71);
            }
            if (argmax)
            {
                var index1 = index0 + Vector512.Create(16);
                Fold(a00, index0, ref best0, ref arg0); Fold(a01, index1, ref best0, ref arg0);
                Fold(a10, index0, ref best1, ref arg1); Fold(a11, index1, ref best1, ref arg1);
                Fold(a20, index0, ref best2, ref arg2); Fold(a21, index1, ref best2, ref arg2);
                Fold(a30, index0, ref best3, ref arg3); Fold(a31, index1, ref best3, ref arg3);
                Fold(a40, index0, ref best4, ref arg4); Fold(a41, index1, ref best4, ref arg4);
                Fold(a50, index0, ref best5, ref arg5); Fold(a51, index1, ref best5, ref arg5);
                Fold(a60, index0, ref best6, ref arg6); Fold(a61, index1, ref best6, ref arg6);
                Fold(a70, index0, ref best7, ref arg7); Fold(a71, index1, ref best7, ref arg7);
            }
            else
            {
                best0 = Vector512.Max(best0, Vector512.Max(a00, a01));
                best1 = Vector512.Max(best1, Vector512.Max(a10, a11));
                best2 = Vector512.Max(best2, Vector512.Max(a20, a21));
                best3 = Vector512.Max(best3, Vector512.Max(a30, a31));
                best4 = Vector512.Max(best4, Vector512.Max(a40, a41));
                best5 = Vector512.Max(best5, Vector512.Max(a50, a51));
                best6 = Vector512.Max(best6, Vector512.Max(a60, a61));
                best7 = Vector512.Max(best7, Vector512.Max(a70, a71));
            }
            if (j0 == diagonalTile)
            {
                // The c′ = c values (the same numbers the max saw).
                for (int r = 0; r < WideRows && c0 + r < c; r++)
                {
                    var (lo, hi) = r switch
                    {
                        0 => (a00, a01), 1 => (a10, a11), 2 => (a20, a21), 3 => (a30, a31),
                        4 => (a40, a41), 5 => (a50, a51), 6 => (a60, a61), _ => (a70, a71),
                    };
                    lo.StoreUnsafe(ref MemoryMarshal.GetReference(spill));
                    hi.StoreUnsafe(ref MemoryMarshal.GetReference(spill), 16);
                    s.Diagonal[c0 + r] = spill[c0 + r - j0];
                }
            }
        }
        Finish(s, c0, c, best0, arg0, 0);
        Finish(s, c0, c, best1, arg1, 1);
        Finish(s, c0, c, best2, arg2, 2);
        Finish(s, c0, c, best3, arg3, 3);
        Finish(s, c0, c, best4, arg4, 4);
        Finish(s, c0, c, best5, arg5, 5);
        Finish(s, c0, c, best6, arg6, 6);
        Finish(s, c0, c, best7, arg7, 7);
    }

    /// <summary>
    /// Running max per lane; a later column replaces the lane's best only when strictly greater. <c>vmaxps</c> returns
    /// its second operand unless the first is greater (also for NaN and ±0), which is that rule, and the blend takes
    /// the compare's mask register as it is: three instructions. The generic ConditionalSelect made the mask a vector
    /// and selected bitwise (four, and a register more, so more of the eight rows' running argmax waited on the stack).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fold(Vector512<float> value, Vector512<int> index, ref Vector512<float> best, ref Vector512<int> arg)
    {
        var better = Vector512.GreaterThan(value, best);
        best = Avx512F.Max(value, best);
        arg = Avx512F.BlendVariable(arg.AsSingle(), index.AsSingle(), better).AsInt32();
    }

    /// <summary>
    /// <see cref="Finish(Scratch, int, int, Vector256{float}, Vector256{int}, int)"/> for sixteen lanes: the two halves
    /// are merged lane by lane first (the greater, or on a tie the smaller c′).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Scratch s, int c0, int c, Vector512<float> best, Vector512<int> arg, int r)
    {
        if (c0 + r >= c) return;
        Vector256<float> lo = best.GetLower(), hi = best.GetUpper();
        Vector256<int> loArg = arg.GetLower(), hiArg = arg.GetUpper();
        var takeHi = Vector256.GreaterThan(hi, lo) | (Vector256.Equals(hi, lo) & Vector256.LessThan(hiArg, loArg).AsSingle());
        Finish(s, c0, c, Vector256.ConditionalSelect(takeHi, hi, lo), Vector256.ConditionalSelect(takeHi.AsInt32(), hiArg, loArg), r);
    }

    /// <summary>
    /// Long vectors (many positions, as in early layers, or a vector layer's N images): the C×C′ products are few next
    /// to the positions, so they are summed in a small buffer over chunks of positions whose reference block stays in
    /// the L1 cache (streaming the whole block once per row block would read it from L2 C/4 times), then folded row by
    /// row. The rows go in passes whose sums fit the L2 cache: the logits' 1,000 × 1,024 sums (4 MiB) went to memory
    /// and back once per chunk. f(gX) is normalised a chunk at a time into a small panel of eight rows, just before
    /// the products read it: a normalised copy of the whole image (3.2 MB at ImageNet's 112×112) left the L2 cache
    /// and came back, and the products' eight row pointers did not fit the registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Chunked(ReadOnlySpan<float> image, SimilarityKind kind, Scratch s, int rowFirst, int rowLast, int l, int cp,
        ReadOnlySpan<float> packed, ReadOnlySpan<float> bias, nint[] rows)
    {
        for (int ch = rowFirst; ch < rowLast; ch++)
            (s.Mean[ch], s.Scale[ch], s.Valid[ch]) = Moments(image.Slice(ch * l, l), kind);
        // At least 64 positions a chunk even where that leaves L1 for L2: with 16 (the logits' 1,024 channels), reloading
        // the sums per chunk cost a fifth of the time of the products. At most a panel row (padded channels are ≥ 32).
        int chunk = Math.Min(PanelStride, Math.Max(64, L1Floats / cp)), pass = RowsPerPass(rowLast - rowFirst, cp);
        ref float b = ref MemoryMarshal.GetReference(packed);
        ref nint rowOf = ref MemoryMarshal.GetArrayDataReference(rows);
        ref float panel = ref MemoryMarshal.GetArrayDataReference(s.Panel);
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        ref float bi = ref MemoryMarshal.GetReference(bias);
        for (int first = rowFirst; first < rowLast; first += pass)
        {
            int last = Math.Min(rowLast, first + pass);
            var partial = s.Partial.AsSpan(s.PartialStart, RoundUp(last - first, WideRows) * cp);
            partial.Clear();
            ref float p = ref MemoryMarshal.GetReference(partial);
            int blocks = (last - first + WideRows - 1) / WideRows;
            for (int q0 = 0; q0 < l; q0 += chunk)
            {
                int count = Math.Min(l, q0 + chunk) - q0;
                ref nint chunkRows = ref Unsafe.Add(ref rowOf, q0);
                // The next chunk's reference rows are asked for, a share per row block.
                int nextFirst = q0 + chunk, nextEnd = Math.Min(l, nextFirst + chunk);
                int share = (Math.Max(0, nextEnd - nextFirst) + blocks - 1) / blocks;
                for (int c0 = first; c0 < last; c0 += WideRows)
                {
                    int from = nextFirst + (c0 - first) / WideRows * share;
                    PrefetchRows(ref b, ref rowOf, from, Math.Min(from + share, nextEnd), cp);
                    FillPanel(image, s, c0, last, l, q0, count);
                    // The next panel's values are asked for while this one's products run: the next row block of
                    // this chunk, or after the last block the first block of the next chunk.
                    bool lastBlock = c0 + WideRows >= last;
                    PrefetchPanel(image, lastBlock ? first : c0 + WideRows, last, l, lastBlock ? q0 + chunk : q0, count);
                    ref float sums = ref Unsafe.Add(ref p, (c0 - first) * cp);
                    if (WideVectors)
                    {
                        PanelProducts512(ref panel, count, cp, ref b, ref sums, ref chunkRows);
                    }
                    else
                    {
                        PanelProducts256(ref panel, count, cp, ref b, ref sums, ref chunkRows);
                        PanelProducts256(ref Unsafe.Add(ref panel, Rows * PanelStride), count, cp, ref b, ref Unsafe.Add(ref sums, Rows * cp), ref chunkRows);
                    }
                }
            }
            for (int row = first; row < last; row++)
            {
                var best = Vector256.Create(float.NegativeInfinity);
                var arg = Vector256<int>.Zero;
                nuint start = (nuint)((row - first) * cp);
                for (int j0 = 0; j0 < cp; j0 += Columns)
                {
                    var index0 = lane + Vector256.Create(j0);
                    Fold(Vector256.LoadUnsafe(ref p, start + (nuint)j0) + Vector256.LoadUnsafe(ref bi, (nuint)j0),
                         Vector256.LoadUnsafe(ref p, start + (nuint)j0 + 8) + Vector256.LoadUnsafe(ref bi, (nuint)j0 + 8),
                         index0, index0 + Vector256.Create(8), ref best, ref arg);
                }
                s.Diagonal[row] = partial[(row - first) * cp + row] + bias[row];
                Finish(s, row, rowLast, best, arg, 0);
            }
        }
    }

    /// <summary>
    /// Asks for the reference rows of positions <paramref name="from"/>…<paramref name="to"/> − 1 (the next chunk) to be
    /// brought into L2 while this chunk is multiplied: g scatters them over the block, one page each, where the
    /// hardware's prefetchers do not follow, and each came from memory at full latency.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchRows(ref float b, ref nint rowOf, int from, int to, int cp)
    {
        for (int q = from; q < to; q++)
        {
            ref float row = ref Unsafe.Add(ref b, Unsafe.Add(ref rowOf, q));
            for (int k = 0; k < cp; k += 16) Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref row, k)));
        }
    }

    /// <summary>
    /// Rows c0…c0+7 (those before <paramref name="last"/>; zero past it) of positions q0…q0+count−1 as unit values,
    /// one panel row of <see cref="PanelStride"/> floats each: the numbers a normalised copy of the whole rows would hold.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FillPanel(ReadOnlySpan<float> image, Scratch s, int c0, int last, int l, int q0, int count)
    {
        for (int k = 0; k < WideRows; k++)
        {
            var to = s.Panel.AsSpan(k * PanelStride, count);
            int row = c0 + k;
            if (row < last) WriteUnit(image.Slice(row * l + q0, count), to, s.Mean[row], s.Scale[row]);
            else to.Clear(); // their sums land in the partial buffer's spare rows and are never read
        }
    }

    /// <summary>
    /// Asks for rows <paramref name="c0"/>…<paramref name="c0"/>+7 (those before <paramref name="last"/>) of positions
    /// <paramref name="q0"/>… (at most <paramref name="count"/>) to be brought into L1 before <see cref="FillPanel"/> reads
    /// them. f(gX) comes from memory (the ImageNet ResNet-18's layers are 12 MB an image), and the panel's eight short runs
    /// of a row a whole row apart are not streams the hardware's prefetchers follow: with this, filling the panels took
    /// 0.070–0.092 thread-seconds a rotation run (32 images) instead of 0.079–0.098.
    /// </summary>
    private static unsafe void PrefetchPanel(ReadOnlySpan<float> image, int c0, int last, int l, int q0, int count)
    {
        if (q0 >= l) return;
        count = Math.Min(count, l - q0);
        ref float x = ref MemoryMarshal.GetReference(image);
        for (int row = c0; row < Math.Min(last, c0 + WideRows); row++)
        {
            ref float at = ref Unsafe.Add(ref x, (nint)row * l + q0);
            for (int k = 0; k < count; k += 16) Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref at, k)));
        }
    }

    /// <summary>Rows summed in one pass of <see cref="Chunked"/>: all of them where their sums fit <see cref="L2Floats"/>.</summary>
    private static int RowsPerPass(int channels, int paddedChannels) =>
        Math.Min(RoundUp(channels, WideRows), Math.Max(WideRows, L2Floats / paddedChannels / WideRows * WideRows));

    /// <summary>Rows of a panel, and of the 512-bit chunked tile (the sums are kept for whole groups of these).</summary>
    private const int WideRows = 8;

    /// <summary>Floats per panel row: the longest chunk (<see cref="L1Floats"/> / 32 padded channels). A constant, so the
    /// products address all eight rows from one pointer.</summary>
    private const int PanelStride = 256;

    /// <summary>
    /// The sums of a panel's first four rows with every reference channel over one chunk, in 4×16 tiles of 256-bit
    /// registers, added to <paramref name="sums"/> (rows <paramref name="cp"/> floats apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PanelProducts256(ref float panel, int count, int cp, ref float b, ref float sums, ref nint rowOf)
    {
        for (int j0 = 0; j0 < cp; j0 += Columns)
        {
            nuint o0 = (nuint)j0, o1 = o0 + (nuint)cp, o2 = o1 + (nuint)cp, o3 = o2 + (nuint)cp;
            var a00 = Vector256.LoadUnsafe(ref sums, o0); var a01 = Vector256.LoadUnsafe(ref sums, o0 + 8);
            var a10 = Vector256.LoadUnsafe(ref sums, o1); var a11 = Vector256.LoadUnsafe(ref sums, o1 + 8);
            var a20 = Vector256.LoadUnsafe(ref sums, o2); var a21 = Vector256.LoadUnsafe(ref sums, o2 + 8);
            var a30 = Vector256.LoadUnsafe(ref sums, o3); var a31 = Vector256.LoadUnsafe(ref sums, o3 + 8);
            ref float strip = ref Unsafe.Add(ref b, j0);
            for (nint q = 0; q < count; q++)
            {
                ref float row = ref Unsafe.Add(ref strip, Unsafe.Add(ref rowOf, q));
                var b0 = Vector256.LoadUnsafe(ref row);
                var b1 = Vector256.LoadUnsafe(ref row, 8);
                ref float at = ref Unsafe.Add(ref panel, q);
                var x = Vector256.Create(at);
                a00 = Vector256.FusedMultiplyAdd(x, b0, a00); a01 = Vector256.FusedMultiplyAdd(x, b1, a01);
                x = Vector256.Create(Unsafe.Add(ref at, PanelStride));
                a10 = Vector256.FusedMultiplyAdd(x, b0, a10); a11 = Vector256.FusedMultiplyAdd(x, b1, a11);
                x = Vector256.Create(Unsafe.Add(ref at, 2 * PanelStride));
                a20 = Vector256.FusedMultiplyAdd(x, b0, a20); a21 = Vector256.FusedMultiplyAdd(x, b1, a21);
                x = Vector256.Create(Unsafe.Add(ref at, 3 * PanelStride));
                a30 = Vector256.FusedMultiplyAdd(x, b0, a30); a31 = Vector256.FusedMultiplyAdd(x, b1, a31);
            }
            a00.StoreUnsafe(ref sums, o0); a01.StoreUnsafe(ref sums, o0 + 8);
            a10.StoreUnsafe(ref sums, o1); a11.StoreUnsafe(ref sums, o1 + 8);
            a20.StoreUnsafe(ref sums, o2); a21.StoreUnsafe(ref sums, o2 + 8);
            a30.StoreUnsafe(ref sums, o3); a31.StoreUnsafe(ref sums, o3 + 8);
        }
    }

    /// <summary>
    /// The sums of a whole panel (eight rows) over one chunk, in 8×32 tiles of 512-bit registers (where the processor
    /// has them): sixteen sums in registers, so each position's two loads of the reference feed sixteen multiply-adds
    /// (eight with 4-row tiles, which ran at about 0.9 of this rate in a C replica of the loop).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PanelProducts512(ref float panel, int count, int cp, ref float b, ref float sums, ref nint rowOf)
    {
        for (int j0 = 0; j0 < cp; j0 += 2 * Columns)
        {
            nuint o0 = (nuint)j0, o1 = o0 + (nuint)cp, o2 = o1 + (nuint)cp, o3 = o2 + (nuint)cp,
                  o4 = o3 + (nuint)cp, o5 = o4 + (nuint)cp, o6 = o5 + (nuint)cp, o7 = o6 + (nuint)cp;
            var a00 = Vector512.LoadUnsafe(ref sums, o0); var a01 = Vector512.LoadUnsafe(ref sums, o0 + 16);
            var a10 = Vector512.LoadUnsafe(ref sums, o1); var a11 = Vector512.LoadUnsafe(ref sums, o1 + 16);
            var a20 = Vector512.LoadUnsafe(ref sums, o2); var a21 = Vector512.LoadUnsafe(ref sums, o2 + 16);
            var a30 = Vector512.LoadUnsafe(ref sums, o3); var a31 = Vector512.LoadUnsafe(ref sums, o3 + 16);
            var a40 = Vector512.LoadUnsafe(ref sums, o4); var a41 = Vector512.LoadUnsafe(ref sums, o4 + 16);
            var a50 = Vector512.LoadUnsafe(ref sums, o5); var a51 = Vector512.LoadUnsafe(ref sums, o5 + 16);
            var a60 = Vector512.LoadUnsafe(ref sums, o6); var a61 = Vector512.LoadUnsafe(ref sums, o6 + 16);
            var a70 = Vector512.LoadUnsafe(ref sums, o7); var a71 = Vector512.LoadUnsafe(ref sums, o7 + 16);
            for (int q = 0; q < count; q++)
            {
                nuint offset = (nuint)(Unsafe.Add(ref rowOf, q) + j0);
                var b0 = Vector512.LoadUnsafe(ref b, offset);
                var b1 = Vector512.LoadUnsafe(ref b, offset + 16);
                ref float at = ref Unsafe.Add(ref panel, q);
                var x = Vector512.Create(at);
                a00 = Vector512.FusedMultiplyAdd(x, b0, a00); a01 = Vector512.FusedMultiplyAdd(x, b1, a01);
                x = Vector512.Create(Unsafe.Add(ref at, PanelStride));
                a10 = Vector512.FusedMultiplyAdd(x, b0, a10); a11 = Vector512.FusedMultiplyAdd(x, b1, a11);
                x = Vector512.Create(Unsafe.Add(ref at, 2 * PanelStride));
                a20 = Vector512.FusedMultiplyAdd(x, b0, a20); a21 = Vector512.FusedMultiplyAdd(x, b1, a21);
                x = Vector512.Create(Unsafe.Add(ref at, 3 * PanelStride));
                a30 = Vector512.FusedMultiplyAdd(x, b0, a30); a31 = Vector512.FusedMultiplyAdd(x, b1, a31);
                x = Vector512.Create(Unsafe.Add(ref at, 4 * PanelStride));
                a40 = Vector512.FusedMultiplyAdd(x, b0, a40); a41 = Vector512.FusedMultiplyAdd(x, b1, a41);
                x = Vector512.Create(Unsafe.Add(ref at, 5 * PanelStride));
                a50 = Vector512.FusedMultiplyAdd(x, b0, a50); a51 = Vector512.FusedMultiplyAdd(x, b1, a51);
                x = Vector512.Create(Unsafe.Add(ref at, 6 * PanelStride));
                a60 = Vector512.FusedMultiplyAdd(x, b0, a60); a61 = Vector512.FusedMultiplyAdd(x, b1, a61);
                x = Vector512.Create(Unsafe.Add(ref at, 7 * PanelStride));
                a70 = Vector512.FusedMultiplyAdd(x, b0, a70); a71 = Vector512.FusedMultiplyAdd(x, b1, a71);
            }
            a00.StoreUnsafe(ref sums, o0); a01.StoreUnsafe(ref sums, o0 + 16);
            a10.StoreUnsafe(ref sums, o1); a11.StoreUnsafe(ref sums, o1 + 16);
            a20.StoreUnsafe(ref sums, o2); a21.StoreUnsafe(ref sums, o2 + 16);
            a30.StoreUnsafe(ref sums, o3); a31.StoreUnsafe(ref sums, o3 + 16);
            a40.StoreUnsafe(ref sums, o4); a41.StoreUnsafe(ref sums, o4 + 16);
            a50.StoreUnsafe(ref sums, o5); a51.StoreUnsafe(ref sums, o5 + 16);
            a60.StoreUnsafe(ref sums, o6); a61.StoreUnsafe(ref sums, o6 + 16);
            a70.StoreUnsafe(ref sums, o7); a71.StoreUnsafe(ref sums, o7 + 16);
        }
    }

    /// <summary>Vectors with at least this many positions take the chunked path.</summary>
    private const int ChunkedFrom = 64;

    /// <summary>Floats per unit row of a short vector (fewer than <see cref="ChunkedFrom"/> positions) in the scratch.</summary>
    private const int ShortStride = ChunkedFrom;

    /// <summary>
    /// A chunk of the reference block in floats: half the core's L1 data cache (<see cref="DataCache"/>), the other
    /// half for the panel, the sums and the stream of f(gX). It was a fixed 32 KiB, chosen on cores with 48 KiB; on a
    /// Zen 3 with 32 KiB that filled the whole cache, and the 64-channel layers (whose chunks it sets; wider layers take
    /// the 64-position minimum) ran 10–25% slower than with 16 KiB chunks. Shorter still does not pay: chunks of
    /// 16–32 positions spent more on reloading the sums per chunk than the L2 reads they saved (10–15% of the stem's
    /// and `layer2`'s kernel time in a microbenchmark).
    /// </summary>
    private static readonly int L1Floats = DataCache.L1Bytes / sizeof(float) / 2;

    /// <summary>
    /// A quarter of a 1 MiB L2 cache in floats, for one pass's sums. Every spatial layer of the ResNets here fits in
    /// one pass (ImageNet's layer3: 256 × 256).
    /// </summary>
    private const int L2Floats = 1 << 16;

    /// <summary>
    /// Running max per lane; a later column replaces the lane's best only when strictly greater (a max and a blend, as
    /// in the 512-bit <see cref="Fold(Vector512{float}, Vector512{int}, ref Vector512{float}, ref Vector512{int})"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fold(Vector256<float> lo, Vector256<float> hi, Vector256<int> indexLo, Vector256<int> indexHi,
        ref Vector256<float> best, ref Vector256<int> arg)
    {
        var better = Vector256.GreaterThan(lo, best);
        best = Avx.Max(lo, best);
        arg = Avx.BlendVariable(arg.AsSingle(), indexLo.AsSingle(), better).AsInt32();
        better = Vector256.GreaterThan(hi, best);
        best = Avx.Max(hi, best);
        arg = Avx.BlendVariable(arg.AsSingle(), indexHi.AsSingle(), better).AsInt32();
    }

    /// <summary>
    /// The row's max over its eight lanes and the smallest c′ that reaches it (−∞ and no c′ when no lane holds a
    /// valid one). In registers: three swaps of lanes for the max, three for the smallest index among the lanes that
    /// hold it — a loop over the lanes cost more than the products on short vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Scratch s, int c0, int c, Vector256<float> best, Vector256<int> arg, int r)
    {
        if (c0 + r >= c) return;
        // best holds no NaN (a lane only takes a value greater than its own), so the native max is exact here.
        var max = Vector256.MaxNative(best, Vector256.Shuffle(best, Vector256.Create(4, 5, 6, 7, 0, 1, 2, 3)));
        max = Vector256.MaxNative(max, Vector256.Shuffle(max, Vector256.Create(2, 3, 0, 1, 6, 7, 4, 5)));
        max = Vector256.MaxNative(max, Vector256.Shuffle(max, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6)));
        var index = Vector256.ConditionalSelect(Vector256.Equals(best, max).AsInt32(), arg, Vector256.Create(int.MaxValue));
        index = Vector256.Min(index, Vector256.Shuffle(index, Vector256.Create(4, 5, 6, 7, 0, 1, 2, 3)));
        index = Vector256.Min(index, Vector256.Shuffle(index, Vector256.Create(2, 3, 0, 1, 6, 7, 4, 5)));
        index = Vector256.Min(index, Vector256.Shuffle(index, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6)));
        float value = max.ToScalar();
        s.Best[c0 + r] = value;
        s.Argmax[c0 + r] = value == float.NegativeInfinity ? int.MaxValue : index.ToScalar();
    }
}
