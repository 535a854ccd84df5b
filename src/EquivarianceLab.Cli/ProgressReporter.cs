using System.Globalization;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Cli;

/// <summary>Progress on stderr: a rewritten line on a terminal, a line every few seconds otherwise.</summary>
public sealed class ProgressReporter(string label) : IProgress<MeasureProgress>
{
    private readonly bool _terminal = !Console.IsErrorRedirected;
    private DateTime _lastLine = DateTime.MinValue;

    public void Report(MeasureProgress p)
    {
        bool last = p.ImagesDone >= p.ImagesTotal;
        if (!_terminal && !last && DateTime.UtcNow - _lastLine < TimeSpan.FromSeconds(5)) return;
        _lastLine = DateTime.UtcNow;
        int width = 24, filled = (int)Math.Round(width * (double)p.ImagesDone / Math.Max(1, p.ImagesTotal));
        var eta = p.Eta is { } t ? (t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"m\:ss", CultureInfo.InvariantCulture)) : "?";
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{label} [{new string('#', filled)}{new string('.', width - filled)}] {p.ImagesDone}/{p.ImagesTotal} images  {p.ImagesPerSecond:0.0} img/s  ETA {eta}");
        if (_terminal) Console.Error.Write("\r" + line + (last ? "\n" : ""));
        else Console.Error.WriteLine(line);
    }
}
