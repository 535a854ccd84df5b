namespace EquivarianceLab.Web.Api;

/// <summary>
/// A request the user can fix. The API answers it as <c>application/problem+json</c> with <see cref="Status"/> and the
/// message as <c>detail</c>; with a <see cref="Field"/> it is a validation problem naming that field. Pages show the
/// message as it is.
/// </summary>
public sealed class RequestException(string message, int status = StatusCodes.Status400BadRequest, string? field = null) : Exception(message)
{
    public int Status { get; } = status;

    /// <summary>The request field (camelCase, as the API names it) that is wrong, if one is.</summary>
    public string? Field { get; } = field;

    /// <summary>An id that names nothing (404).</summary>
    public static RequestException NotFound(string message, string? field = null) => new(message, StatusCodes.Status404NotFound, field);

    /// <summary>A file that arrived whole but cannot be used as a model or probe set (422).</summary>
    public static RequestException Unusable(string message) => new(message, StatusCodes.Status422UnprocessableEntity);

    /// <summary>Signed in, but this account may not do this (403): someone else's run, or an admin's task.</summary>
    public static RequestException Forbidden(string message) => new(message, StatusCodes.Status403Forbidden);

    /// <summary>Over a quota (429); the API adds Retry-After.</summary>
    public static RequestException OverQuota(string message, TimeSpan retryAfter) => new(message, StatusCodes.Status429TooManyRequests) { RetryAfter = retryAfter };

    /// <summary>When to try again, for a 429.</summary>
    public TimeSpan? RetryAfter { get; private init; }

    /// <summary>A request the current state does not allow, e.g. cancelling a finished run (409).</summary>
    public static RequestException Conflict(string message) => new(message, StatusCodes.Status409Conflict);

    /// <summary>A body over the limit (413).</summary>
    public static RequestException TooLarge(string message) => new(message, StatusCodes.Status413PayloadTooLarge);

    /// <summary>A wrong value of one request field (400, a validation problem naming the field).</summary>
    public static RequestException Invalid(string field, string message) => new(message, StatusCodes.Status400BadRequest, field);
}
