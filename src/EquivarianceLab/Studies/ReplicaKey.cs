using System.Text.RegularExpressions;
using EquivarianceLab.Cards;

namespace EquivarianceLab.Studies;

/// <summary>
/// Which zoo models are seed replicas of one experimental setting: those trained by the same <c>eqlab train</c> command
/// but for its seed. The key is that command as the card's <c>provenance</c> records it, without the options that do not
/// change what is trained — <c>--seed</c>, where the result goes (<c>--out</c>, <c>--id</c>, <c>--name</c>), where the
/// data is read from (<c>--data-folder</c>) and how many threads ran it (<c>--threads</c>) — and without the run summary
/// in brackets after it. A card not written by <c>eqlab train</c> (a built-in control, an imported checkpoint) is a
/// setting of its own: its key is its id.
/// </summary>
public static class ReplicaKey
{
    private const string TrainCommand = "eqlab train";

    private static readonly HashSet<string> NotTheSetting = new(StringComparer.Ordinal)
    {
        "--seed", "--out", "--id", "--name", "--data-folder", "--threads",
    };

    // A token of the recorded command: plain, or single-quoted with '\'' for a quote, as eqlab train writes it.
    private static readonly Regex Token = new(@"'(?:[^']|'\\'')*'|\S+", RegexOptions.CultureInvariant);

    /// <summary>The key of a zoo model: its training command without seed and output, or <c>model:ID</c>.</summary>
    public static string Of(ZooEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return TrainingSetting(entry.Card) ?? "model:" + entry.Id;
    }

    /// <summary>
    /// <c>eqlab train --arch cnn7 --data fmnist6 --epochs 10</c> for a card whose provenance is
    /// <c>eqlab train --arch cnn7 --data fmnist6 --epochs 10 --seed 1 --out models/cnn7-fmnist6-seed1 (seed 1; …)</c>;
    /// null for a card not written by <c>eqlab train</c>. Options keep their order: commands that differ only in the
    /// order of their options count as different settings, which shows as rows of one seed rather than a wrong mean.
    /// </summary>
    public static string? TrainingSetting(ModelCard? card)
    {
        if (card?.Provenance?.Trim() is not { } text || !text.StartsWith(TrainCommand, StringComparison.Ordinal)) return null;
        // TrainingRun appends "(seed N; epochs, steps, time …)" to the command; a quoted --name before it may hold anything.
        var summary = text.LastIndexOf(" (seed ", StringComparison.Ordinal);
        if (summary >= 0) text = text[..summary];
        var tokens = Token.Matches(text).Select(m => m.Value).ToList();
        var kept = new List<string>(tokens.Count);
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            var equals = token.StartsWith("--", StringComparison.Ordinal) ? token.IndexOf('=', StringComparison.Ordinal) : -1;
            if (!NotTheSetting.Contains(equals > 0 ? token[..equals] : token))
            {
                kept.Add(token);
                continue;
            }
            // "--seed 1" drops its value too; "--seed=1" is one token.
            if (equals < 0 && i + 1 < tokens.Count && !tokens[i + 1].StartsWith("--", StringComparison.Ordinal)) i++;
        }
        return string.Join(' ', kept);
    }
}
