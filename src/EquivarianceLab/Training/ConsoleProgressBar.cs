using System.Diagnostics;
using System.Globalization;

namespace EquivarianceLab.Training;

/// <summary>
/// A one-line progress bar for training on a text writer (stderr): epoch, bar, step, running loss and accuracy, learning
/// rate and time. On a terminal it redraws in place at most 5 times a second; when redirected it writes a line every 10%
/// of an epoch.
/// </summary>
public sealed class ConsoleProgressBar(TextWriter writer, bool interactive) : IProgress<TrainingProgress>
{
    private const int Width = 28;
    private readonly Stopwatch _sinceDraw = Stopwatch.StartNew();
    private int _lastDecile = -1;
    private int _lastEpoch;
    private int _lastLength;

    public void Report(TrainingProgress p)
    {
        bool epochDone = p.Batch == p.Batches;
        if (interactive)
        {
            if (!epochDone && _sinceDraw.ElapsedMilliseconds < 200) return;
            _sinceDraw.Restart();
            var line = Format(p);
            writer.Write("\r" + line + new string(' ', Math.Max(0, _lastLength - line.Length)));
            _lastLength = line.Length;
            if (epochDone) { writer.WriteLine(); _lastLength = 0; }
        }
        else
        {
            if (p.Epoch != _lastEpoch) { _lastEpoch = p.Epoch; _lastDecile = -1; }
            int decile = p.Batch * 10 / p.Batches;
            if (decile == _lastDecile && !epochDone) return;
            _lastDecile = decile;
            writer.WriteLine(Format(p));
        }
        writer.Flush();
    }

    public static string Format(TrainingProgress p)
    {
        int filled = (int)Math.Round(Width * (double)p.Batch / p.Batches);
        var bar = new string('#', filled) + new string('.', Width - filled);
        return string.Create(CultureInfo.InvariantCulture,
            $"epoch {p.Epoch}/{p.Epochs} [{bar}] {p.Batch}/{p.Batches} loss {p.Loss:F4} acc {p.Accuracy:F1}% lr {p.LearningRate:G3} {p.Elapsed:hh\\:mm\\:ss}");
    }
}
