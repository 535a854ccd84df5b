using System.Text.RegularExpressions;

namespace EquivarianceLab.Web.Security;

/// <summary>
/// Makes an error message fit to show to anyone holding a link: known files become the names users know them by,
/// server folders disappear, any other absolute path shrinks to its last segment, and only the first line is kept
/// (no stack traces). Messages reach users through the API, the pages and stored run errors, so all pass here.
/// </summary>
public sealed partial class SafeText(LabPaths paths)
{
    private const int MaxLength = 1000;

    /// <summary>Cleans <paramref name="message"/>; <paramref name="known"/> maps stored paths to what the user calls them.</summary>
    public string Clean(string message, params (string Path, string Shown)[] known)
    {
        var text = Messages.FirstLine(message, int.MaxValue) is { Length: > 0 } line ? line : "Unknown error.";
        foreach (var (path, shown) in known.Where(k => !string.IsNullOrEmpty(k.Path)).OrderByDescending(k => k.Path.Length))
        {
            text = text.Replace(path, shown, StringComparison.Ordinal);
            // Stored files are named by content hash; the hash name alone says nothing to the user either.
            var name = Path.GetFileName(path);
            if (name.Length >= 8) text = text.Replace(name, shown, StringComparison.Ordinal);
        }
        foreach (var root in Roots())
            text = text.Replace(root, "", StringComparison.Ordinal);
        text = AbsolutePath().Replace(text, m => m.Groups["last"].Value);
        return text.Length > MaxLength ? text[..MaxLength] + "…" : text;
    }

    private IEnumerable<string> Roots() =>
        new[] { paths.DataFolder, paths.ZooFolder, paths.ContentRoot, AppContext.BaseDirectory, Path.GetTempPath(),
                Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) }
            .Where(r => !string.IsNullOrEmpty(r) && r.Length > 1)
            .Select(r => Path.TrimEndingDirectorySeparator(r) + Path.DirectorySeparatorChar)
            .Distinct()
            .OrderByDescending(r => r.Length);

    /// <summary>
    /// /a/b/c.ext (two or more segments) → c.ext; Windows drive paths likewise. A path in single quotes is a name the
    /// user gave (e.g. a zip entry '/etc/x.png' being refused) and stays.
    /// </summary>
    [GeneratedRegex(@"(?<![\w.~/:'])(?:[A-Za-z]:)?[/\\](?:[^\s/\\'""`:;,()\[\]]+[/\\])+(?<last>[^\s/\\'""`:;,()\[\]]*)")]
    private static partial Regex AbsolutePath();
}
