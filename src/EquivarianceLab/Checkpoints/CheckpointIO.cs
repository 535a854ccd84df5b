using System.Collections;
using System.Text;
using EquivarianceLab.Architectures;
using EquivarianceLab.Cards;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace EquivarianceLab.Checkpoints;

/// <summary>The weight file formats <see cref="CheckpointIO"/> reads and writes.</summary>
public enum CheckpointFormat
{
    /// <summary>TorchSharp's own <c>Module.save</c> format (<c>.dat</c>).</summary>
    TorchSharp,
    /// <summary>A PyTorch <c>torch.save(model.state_dict())</c> zip pickle (<c>.pt</c>, <c>.pth</c>), through TorchSharp.PyBridge.</summary>
    PyTorch,
    /// <summary>A safetensors state_dict (<c>.safetensors</c>), through TorchSharp.PyBridge.</summary>
    Safetensors,
}

/// <summary>
/// Weight files of the project's architectures (docs/training.md, "Checkpoints"): TorchSharp <c>.dat</c>, PyTorch
/// <c>.pt</c>/<c>.pth</c> and <c>.safetensors</c> state_dicts. Loading builds the card's architecture, reads the
/// file's state_dict, compares its keys and shapes with the module's before loading (a mismatch lists the first
/// missing/unexpected keys and shape differences) and returns the module in eval mode.
/// </summary>
public static class CheckpointIO
{
    /// <summary>How many keys of each kind a mismatch message lists.</summary>
    public const int MessageKeyLimit = 5;

    /// <summary>The format of a weight file, from its extension.</summary>
    public static CheckpointFormat FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".dat" => CheckpointFormat.TorchSharp,
        ".pt" or ".pth" or ".bin" => CheckpointFormat.PyTorch,
        ".safetensors" => CheckpointFormat.Safetensors,
        var ext => throw new EquivarianceLabException(
            $"{Path.GetFileName(path)}: unknown weight file type '{ext}'; expected .dat (TorchSharp), .pt/.pth (PyTorch state_dict) or .safetensors."),
    };

    /// <summary>The card's <c>format</c> value for a weight file: <c>torchsharp</c> for .dat, <c>pytorch</c> otherwise.</summary>
    public static string CardFormat(string path) => FormatOf(path) == CheckpointFormat.TorchSharp ? "torchsharp" : "pytorch";

    /// <summary>Builds the card's architecture and loads the weight file into it. The module is in eval mode.</summary>
    public static nn.Module<Tensor, Tensor> Load(string path, ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(card);
        if (string.IsNullOrWhiteSpace(card.Architecture))
            throw new EquivarianceLabException(
                $"The card of {Path.GetFileName(path)} names no architecture; weight files need one of: {string.Join(", ", ArchitectureRegistry.Names)}.");
        var module = ArchitectureRegistry.Create(card.Architecture, card.ArchitectureOptions);
        try
        {
            LoadInto(module, path, $"{card.Architecture}{DescribeOptions(card)}");
        }
        catch
        {
            module.Dispose();
            throw;
        }
        module.eval();
        return module;
    }

    /// <summary>Loads a weight file into an existing module after checking that every key and shape fits.</summary>
    public static void LoadInto(nn.Module module, string path, string? describedAs = null)
    {
        var fileState = ReadStateDict(path);
        try
        {
            var moduleState = module.state_dict();
            var problem = Compare(fileState, moduleState);
            if (problem is not null)
                throw new EquivarianceLabException($"{Path.GetFileName(path)} does not fit {describedAs ?? module.GetName()}: {problem}.");
            // The dtype conversions are temporaries: in a scope, so none is left to the finalizer (docs/architecture.md).
            using (torch.no_grad())
            using (torch.NewDisposeScope())
            {
                foreach (var (key, target) in moduleState)
                {
                    if (!fileState.TryGetValue(key, out var source)) continue; // only optional BN counters may be absent
                    target.copy_(source.to(target.dtype));
                }
            }
        }
        finally
        {
            foreach (var t in fileState.Values) t.Dispose();
        }
    }

    /// <summary>Writes the module's state_dict in the format the extension names (.dat, .pt/.pth, .safetensors).</summary>
    public static void Save(nn.Module module, string path)
    {
        var format = FormatOf(path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        var temp = path + ".tmp";
        try
        {
            switch (format)
            {
                case CheckpointFormat.TorchSharp:
                    using (var stream = File.Create(temp)) module.save(stream);
                    break;
                case CheckpointFormat.PyTorch:
                    module.save_py(temp);
                    break;
                case CheckpointFormat.Safetensors:
                    module.save_safetensors(temp);
                    break;
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Reads a weight file's state_dict (CPU tensors; the caller disposes them). A PyTorch checkpoint that wraps the
    /// state_dict (<c>{"state_dict": …}</c>, <c>{"model": …}</c>) is unwrapped, and a <c>module.</c> prefix on every key
    /// (DataParallel) is dropped.
    /// </summary>
    public static Dictionary<string, Tensor> ReadStateDict(string path)
    {
        var name = Path.GetFileName(path);
        var format = FormatOf(path);
        if (!File.Exists(path)) throw new EquivarianceLabException($"Weight file {path} does not exist.");
        Dictionary<string, Tensor> state;
        // The readers make tensors they drop (PyBridge's unpickler one per entry; a checkpoint's non-weight entries):
        // in a scope, so that none is left to the finalizer (docs/architecture.md), and only the state's are kept.
        using var scope = torch.NewDisposeScope();
        try
        {
            state = format switch
            {
                CheckpointFormat.TorchSharp => ReadTorchSharp(path),
                CheckpointFormat.PyTorch => ReadPyTorch(path),
                _ => Safetensors.LoadStateDict(path, null),
            };
        }
        catch (EquivarianceLabException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var expected = format switch
            {
                CheckpointFormat.TorchSharp => "a TorchSharp .dat weight file (Module.save)",
                CheckpointFormat.PyTorch => "a PyTorch state_dict saved with torch.save (zip format)",
                _ => "a safetensors file",
            };
            throw new EquivarianceLabException($"{name} is not {expected}, or it is corrupt: {Messages.FirstLine(e.Message)}", e);
        }
        if (state.Count > 0 && state.Keys.All(k => k.StartsWith("module.", StringComparison.Ordinal)))
            state = state.ToDictionary(kv => kv.Key["module.".Length..], kv => kv.Value, StringComparer.Ordinal);
        scope.Detach(state.Values);
        return state;
    }

    /// <summary>Null when the file's state fits the module's (same keys, same shapes), else what differs.</summary>
    public static string? Compare(IReadOnlyDictionary<string, Tensor> file, IReadOnlyDictionary<string, Tensor> module)
    {
        var missing = module.Keys.Where(k => !file.ContainsKey(k) && !IsOptional(k)).ToList();
        var unexpected = file.Keys.Where(k => !module.ContainsKey(k)).ToList();
        var shapes = module.Where(kv => file.TryGetValue(kv.Key, out var f) && !f.shape.SequenceEqual(kv.Value.shape))
            .Select(kv => $"{kv.Key} is {Shape(file[kv.Key].shape)} in the file but {Shape(kv.Value.shape)} in the model")
            .ToList();
        if (missing.Count == 0 && unexpected.Count == 0 && shapes.Count == 0) return null;
        var parts = new List<string>();
        if (missing.Count > 0) parts.Add($"missing keys {List(missing)}");
        if (unexpected.Count > 0) parts.Add($"unexpected keys {List(unexpected)}");
        if (shapes.Count > 0) parts.Add($"shape mismatches: {List(shapes)}");
        return string.Join("; ", parts);
    }

    // BatchNorm's step counter is not a weight: files written by old PyTorch versions lack it.
    private static bool IsOptional(string key) => key.EndsWith("num_batches_tracked", StringComparison.Ordinal);

    private static string List(List<string> items) =>
        string.Join(", ", items.Take(MessageKeyLimit)) + (items.Count > MessageKeyLimit ? $" (and {items.Count - MessageKeyLimit} more)" : "");

    private static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    private static string DescribeOptions(ModelCard card) =>
        card.ArchitectureOptions is { Count: > 0 } o ? " (" + string.Join(", ", o.Select(kv => $"{kv.Key} {kv.Value.GetRawText()}")) + ")" : "";

    /// <summary>TorchSharp's format: a 7-bit-encoded entry count, then per entry a string key and a tensor (Tensor.Load).</summary>
    private static Dictionary<string, Tensor> ReadTorchSharp(string path)
    {
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        try
        {
            long count = reader.Read7BitEncodedInt64();
            if (count < 0 || count > 1_000_000) throw new InvalidDataException($"implausible entry count {count}");
            for (long i = 0; i < count; i++)
            {
                var key = reader.ReadString();
                if (stream.Position >= stream.Length) throw new EndOfStreamException($"the file ends at entry '{key}'");
                var tensor = Tensor.Load(reader);
                if (!state.TryAdd(key, tensor)) { tensor.Dispose(); throw new InvalidDataException($"key '{key}' appears twice"); }
            }
            if (stream.Position != stream.Length) throw new InvalidDataException($"{stream.Length - stream.Position} bytes follow the last entry");
        }
        catch
        {
            foreach (var t in state.Values) t.Dispose();
            throw;
        }
        return state;
    }

    private static Dictionary<string, Tensor> ReadPyTorch(string path)
    {
        var table = PyTorchUnpickler.UnpickleStateDict(path);
        return FromTable(table, Path.GetFileName(path), 0);
    }

    private static Dictionary<string, Tensor> FromTable(Hashtable table, string name, int depth)
    {
        if (table.Count > 0 && table.Values.Cast<object?>().All(v => v is Tensor))
            return table.Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (Tensor)e.Value!, StringComparer.Ordinal);
        if (depth < 2)
        {
            foreach (var wrapper in new[] { "state_dict", "model_state_dict", "model", "net", "module" })
                if (table[wrapper] is Hashtable inner) return FromTable(inner, name, depth + 1);
        }
        if (table.Count == 0) throw new EquivarianceLabException($"{name} holds an empty state_dict.");
        var keys = string.Join(", ", table.Keys.Cast<object>().Take(MessageKeyLimit));
        throw new EquivarianceLabException(
            $"{name} is a PyTorch file but not a state_dict of tensors (its top-level keys: {keys}); save model.state_dict(), not the whole model.");
    }
}
