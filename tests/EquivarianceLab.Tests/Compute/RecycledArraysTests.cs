using EquivarianceLab.Compute;

namespace EquivarianceLab.Tests.Compute;

/// <summary>
/// The store of the measure's working arrays between measurements: an array handed back is the one the next rent of
/// its element type, length and heap gets, with its contents; nothing else gets it; and no more than the store's cap
/// is kept, the longest idle dropped first. (The measure's use of it is checked by measuring twice in one process
/// with another measurement in between: <c>DeterminismTests</c>, to the bit, matchings included.)
/// </summary>
public sealed class RecycledArraysTests
{
    [Fact]
    public void An_array_handed_back_is_rented_again_with_its_contents()
    {
        var store = new RecycledArrays(1 << 20);
        var first = store.Rent<float>(1000);
        first[999] = 7f;
        store.Return(first);
        Assert.Equal(4000, store.IdleBytes);

        var again = store.Rent<float>(1000);
        Assert.Same(first, again);
        Assert.Equal(7f, again[999]);
        Assert.Equal(0, store.IdleBytes);
        // Taken: the next rent of that length is a new array.
        Assert.NotSame(first, store.Rent<float>(1000));
    }

    [Fact]
    public void Only_the_same_element_type_length_and_heap_get_it()
    {
        var store = new RecycledArrays(1 << 20);
        var floats = store.Rent<float>(256);
        store.Return(floats);
        Assert.NotSame(floats, store.Rent<float>(255));
        Assert.NotSame(floats, store.Rent<float>(257));
        Assert.Empty(store.Rent<float>(0));
        var ints = store.Rent<int>(256);
        Assert.NotSame(floats, (object)ints);
        var pinned = store.Rent<float>(256, pinned: true);
        Assert.NotSame(floats, pinned);
        Assert.Same(floats, store.Rent<float>(256));

        // A pinned array goes only to a rent of a pinned one: the kernel aligns its packed references by address.
        store.Return(pinned, pinned: true);
        Assert.NotSame(pinned, store.Rent<float>(256));
        Assert.Same(pinned, store.Rent<float>(256, pinned: true));
    }

    [Fact]
    public void No_more_than_the_cap_is_kept_and_the_longest_idle_goes_first()
    {
        var store = new RecycledArrays(10_000);
        var a = store.Rent<int>(1000); // 4,000 bytes each
        var b = store.Rent<int>(1001);
        var c = store.Rent<int>(1002);
        store.Return(a);
        store.Return(b);
        Assert.Equal(8004, store.IdleBytes);
        store.Return(c); // 12,012 bytes > 10,000: a, the longest idle, is dropped
        Assert.Equal(8012, store.IdleBytes);
        Assert.NotSame(a, store.Rent<int>(1000));
        Assert.Same(b, store.Rent<int>(1001));
        Assert.Same(c, store.Rent<int>(1002));

        // An array larger than the whole cap is never kept (and drops nothing).
        store.Return(b);
        store.Return(new int[3000]);
        Assert.Equal(4004, store.IdleBytes);
        Assert.Same(b, store.Rent<int>(1001));
    }

    [Fact]
    public void Arrays_handed_back_from_several_threads_are_each_rented_once()
    {
        var store = new RecycledArrays(1 << 24);
        var arrays = Enumerable.Range(0, 64).Select(_ => store.Rent<double>(500)).ToArray();
        Parallel.ForEach(arrays, array => store.Return(array));
        Assert.Equal(64 * 500 * 8, store.IdleBytes);
        var rented = new double[64][];
        Parallel.For(0, 64, i => rented[i] = store.Rent<double>(500));
        Assert.Equal(64, rented.Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.All(rented, r => Assert.Contains(arrays, a => ReferenceEquals(a, r)));
        Assert.Equal(0, store.IdleBytes);
    }

    [Fact]
    public void An_array_handed_back_twice_is_refused_and_kept_once()
    {
        var store = new RecycledArrays(1 << 20);
        var array = store.Rent<int>(300);
        store.Return(array);
        var error = Assert.Throws<InvalidOperationException>(() => store.Return(array));
        Assert.Contains("twice", error.Message);
        Assert.Equal(1200, store.IdleBytes);
        Assert.Same(array, store.Rent<int>(300));
        Assert.NotSame(array, store.Rent<int>(300));

        // Rented again, it may come back again.
        store.Return(array);
        Assert.Same(array, store.Rent<int>(300));
    }

    [Fact]
    public void Among_arrays_of_one_length_the_newest_is_rented_first_and_the_oldest_dropped_first()
    {
        // Many arrays of a few lengths, as a large model's partner tables: each rent finds its own among them.
        var store = new RecycledArrays(1 << 24);
        var arrays = Enumerable.Range(0, 300).Select(i => store.Rent<int>(100 + i % 3)).ToArray();
        foreach (var array in arrays) store.Return(array);
        Assert.Equal(arrays.Sum(a => 4L * a.Length), store.IdleBytes);
        for (int i = arrays.Length - 1; i >= 0; i--)
            Assert.Same(arrays[i], store.Rent<int>(arrays[i].Length));
        Assert.Equal(0, store.IdleBytes);

        // At the cap the longest idle goes, whatever its length; the others of its length stay.
        var small = new RecycledArrays(4 * 1000);
        var first = small.Rent<int>(100);
        var second = small.Rent<int>(100);
        var others = Enumerable.Range(0, 8).Select(_ => small.Rent<int>(100)).ToArray();
        small.Return(first);
        small.Return(second);
        foreach (var other in others) small.Return(other); // the tenth fills the cap exactly
        Assert.Equal(4000, small.IdleBytes);
        var extra = small.Rent<int>(50);
        small.Return(extra); // 200 more bytes: first goes
        Assert.Equal(3800, small.IdleBytes);
        var rented = Enumerable.Range(0, 9).Select(_ => small.Rent<int>(100)).ToList();
        Assert.DoesNotContain(rented, r => ReferenceEquals(r, first));
        Assert.Contains(rented, r => ReferenceEquals(r, second));
        Assert.Same(extra, small.Rent<int>(50));
    }

    [Fact]
    public void Clear_drops_every_idle_array()
    {
        var store = new RecycledArrays(1 << 20);
        var array = store.Rent<byte>(100);
        store.Return(array);
        store.Clear();
        Assert.Equal(0, store.IdleBytes);
        Assert.NotSame(array, store.Rent<byte>(100));
    }
}
