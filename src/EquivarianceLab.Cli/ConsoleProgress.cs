using System.Diagnostics;
using System.Globalization;
using EquivarianceLab.Measure;
using EquivarianceLab.Training;

namespace EquivarianceLab.Cli;

/// <summary>
/// The command line's one progress line, on stderr: on a terminal it is redrawn in place at most 5 times a second; when
/// redirected, whole lines are written only now and then (each caller says when), so logs stay short. Measurements
/// (<see cref="ForMeasure"/>) and training (<see cref="ForTraining"/>) draw through it.
/// </summary>
public sealed class ConsoleProgress(TextWriter writer, bool interactive)
{
    private const int BarWidth = 24;
    private readonly Stopwatch _sinceDraw = Stopwatch.StartNew();
    private int _lastLength;

    /// <summary>On stderr, redrawn in place unless stderr is redirected.</summary>
    public static ConsoleProgress OnStandardError() => new(Console.Error, !Console.IsErrorRedirected);

    /// <summary>Shows <paramref name="line"/>; <paramref name="final"/> ends it (always drawn). A redirected writer gets it only when <paramref name="logNow"/>.</summary>
    public void Show(string line, bool final, bool logNow)
    {
        if (interactive)
        {
            if (!final && _sinceDraw.ElapsedMilliseconds < 200) return;
            _sinceDraw.Restart();
            writer.Write("\r" + line + new string(' ', Math.Max(0, _lastLength - line.Length)));
            _lastLength = line.Length;
            if (final) { writer.WriteLine(); _lastLength = 0; }
        }
        else if (final || logNow)
        {
            writer.WriteLine(line);
        }
        writer.Flush();
    }

    public static string Bar(double fraction)
    {
        int filled = (int)Math.Round(BarWidth * Math.Clamp(fraction, 0, 1));
        return new string('#', filled) + new string('.', BarWidth - filled);
    }

    /// <summary>Images done, rate and time left; redirected, a line every 5 s.</summary>
    public IProgress<MeasureProgress> ForMeasure(string label) => new MeasureLine(this, label);

    /// <summary>Epoch, step, running loss and accuracy, learning rate and time; redirected, a line every 10% of an epoch.</summary>
    public IProgress<TrainingProgress> ForTraining() => new TrainingLine(this);

    private sealed class MeasureLine(ConsoleProgress console, string label) : IProgress<MeasureProgress>
    {
        private readonly Stopwatch _sinceLog = new();

        public void Report(MeasureProgress p)
        {
            bool last = p.ImagesDone >= p.ImagesTotal;
            bool logNow = !_sinceLog.IsRunning || _sinceLog.Elapsed >= TimeSpan.FromSeconds(5);
            if (logNow) _sinceLog.Restart();
            console.Show(Format(label, p), last, logNow);
        }
    }

    private sealed class TrainingLine(ConsoleProgress console) : IProgress<TrainingProgress>
    {
        private int _lastDecile = -1, _lastEpoch;

        public void Report(TrainingProgress p)
        {
            if (p.Epoch != _lastEpoch) { _lastEpoch = p.Epoch; _lastDecile = -1; }
            int decile = p.Batch * 10 / p.Batches;
            bool logNow = decile != _lastDecile;
            _lastDecile = decile;
            console.Show(Format(p), p.Batch == p.Batches, logNow);
        }
    }

    public static string Format(string label, MeasureProgress p)
    {
        var eta = p.Eta is { } t ? (t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"m\:ss", CultureInfo.InvariantCulture)) : "?";
        return string.Create(CultureInfo.InvariantCulture,
            $"{label} [{Bar((double)p.ImagesDone / Math.Max(1, p.ImagesTotal))}] {p.ImagesDone}/{p.ImagesTotal} images  {p.ImagesPerSecond:0.0} img/s  ETA {eta}");
    }

    public static string Format(TrainingProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {p.Epoch}/{p.Epochs} [{Bar((double)p.Batch / p.Batches)}] {p.Batch}/{p.Batches} loss {p.Loss:F4} acc {p.Accuracy:F1}% lr {p.LearningRate:G3} {p.Elapsed:hh\\:mm\\:ss}");
}
