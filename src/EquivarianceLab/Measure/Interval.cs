using System.Text.Json;
using System.Text.Json.Serialization;

namespace EquivarianceLab.Measure;

/// <summary>A confidence interval; <c>[low, high]</c> in JSON.</summary>
[JsonConverter(typeof(IntervalJsonConverter))]
public readonly record struct Interval(double Low, double High)
{
    /// <summary>
    /// The "±" of a table: the interval's half-width around <paramref name="score"/>. The larger side, because an
    /// interval clamped to [−1, 1] is shorter on the clamped side.
    /// </summary>
    public double HalfWidthAround(double score) => Math.Max(score - Low, High - score);
}

public sealed class IntervalJsonConverter : JsonConverter<Interval>
{
    public override Interval Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var values = JsonSerializer.Deserialize<double[]>(ref reader, options);
        if (values is not { Length: 2 }) throw new JsonException("An interval is [low, high].");
        return new Interval(values[0], values[1]);
    }

    public override void Write(Utf8JsonWriter writer, Interval value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        writer.WriteNumberValue(value.Low);
        writer.WriteNumberValue(value.High);
        writer.WriteEndArray();
    }
}
