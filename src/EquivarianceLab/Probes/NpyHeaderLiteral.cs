using System.Globalization;
using System.Text;

namespace EquivarianceLab.Probes;

/// <summary>
/// The subset of Python literals a .npy header uses: a dict of strings, booleans, None, integers and tuples/lists.
/// Parsed with an explicit stack, never by recursion: a 20 KB header of 20 000 nested '(' must be a clear error,
/// not a stack overflow that kills the process. Nesting is limited to <see cref="MaxDepth"/> levels (numpy's own
/// headers nest two deep; a structured dtype a few more).
/// </summary>
internal sealed class NpyHeaderLiteral
{
    public const int MaxDepth = 32;

    private readonly string _s;
    private int _i;

    private NpyHeaderLiteral(string s) => _s = s;

    /// <summary>Parses the header text; a malformed one is a <see cref="FormatException"/> (an oversized integer an <see cref="OverflowException"/>).</summary>
    public static Dictionary<string, object?> ParseDict(string text)
    {
        var p = new NpyHeaderLiteral(text);
        if (p.ParseValue() is not Dictionary<string, object?> dict) throw new FormatException("not a dict");
        p.Skip();
        if (p._i != p._s.Length) throw new FormatException("text after the dict");
        return dict;
    }

    /// <summary>An open dict, tuple or list and, for a dict, the key whose value comes next.</summary>
    private sealed class Open(char close, Dictionary<string, object?>? dict, List<object?>? list)
    {
        public char Close { get; } = close;
        public Dictionary<string, object?>? Dict { get; } = dict;
        public List<object?>? List { get; } = list;
        public string? Key { get; set; }
        public object Value => (object?)Dict ?? List!;
    }

    private object? ParseValue()
    {
        var open = new Stack<Open>();
        while (true)
        {
            // Here a value is expected, or the end of the innermost container (empty, or after a trailing comma).
            Skip();
            char c = Peek();
            object? value;
            if (open.TryPeek(out var top) && c == top.Close && top.Key is null)
            {
                _i++;
                value = open.Pop().Value;
            }
            else if (c is '{' or '(' or '[')
            {
                if (open.Count >= MaxDepth) throw new FormatException($"it nests deeper than {MaxDepth} levels");
                _i++;
                open.Push(c == '{'
                    ? new Open('}', new Dictionary<string, object?>(StringComparer.Ordinal), null)
                    : new Open(c == '(' ? ')' : ']', null, []));
                continue;
            }
            else value = ParseScalar(c);

            // Hand the value to its container; each container it completes goes to the one outside it.
            while (true)
            {
                if (!open.TryPeek(out top)) return value;
                if (top.Dict is { } dict)
                {
                    if (top.Key is null)
                    {
                        top.Key = value as string ?? throw new FormatException("dict key is not a string");
                        Skip();
                        if (Peek() != ':') throw new FormatException("expected ':'");
                        _i++;
                        break;
                    }
                    dict[top.Key] = value;
                    top.Key = null;
                }
                else top.List!.Add(value);

                Skip();
                if (Peek() == ',')
                {
                    _i++;
                    break;
                }
                if (Peek() != top.Close) throw new FormatException($"expected ',' or '{top.Close}'");
                _i++;
                value = open.Pop().Value;
            }
        }
    }

    private object? ParseScalar(char c)
    {
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
        if (char.IsAsciiDigit(c) || c == '-')
        {
            int start = _i++;
            while (_i < _s.Length && char.IsAsciiDigit(_s[_i])) _i++;
            var value = long.Parse(_s.AsSpan(start, _i - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            if (_i < _s.Length && _s[_i] is 'L' or 'l') _i++; // Python 2 long suffix in old files
            return value;
        }
        int wordStart = _i;
        while (_i < _s.Length && char.IsAsciiLetter(_s[_i])) _i++;
        return _s[wordStart.._i] switch
        {
            "True" => true,
            "False" => false,
            "None" => null,
            var w => throw new FormatException($"unexpected '{Messages.Untrusted(w.Length > 0 ? w : c.ToString(), 20)}'"),
        };
    }

    private void Skip()
    {
        while (_i < _s.Length && char.IsWhiteSpace(_s[_i])) _i++;
    }

    private char Peek() => _i < _s.Length ? _s[_i] : throw new FormatException("unexpected end");
}
