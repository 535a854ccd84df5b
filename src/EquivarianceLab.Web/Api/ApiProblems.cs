using Microsoft.AspNetCore.Http.HttpResults;

namespace EquivarianceLab.Web.Api;

/// <summary>Every API error as RFC 9457 <c>application/problem+json</c>: what is wrong in <c>detail</c>, nothing of the server.</summary>
public static class ApiProblems
{
    public static ProblemHttpResult NotFound(string detail) => Problem(detail, StatusCodes.Status404NotFound);

    public static ProblemHttpResult Problem(string detail, int status, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail: detail, statusCode: status, extensions: extensions);

    /// <summary>A <see cref="RequestException"/> as a problem: a 400 naming a field is a validation problem (its
    /// <c>errors</c> keyed by field); any other status with a field carries the same <c>errors</c> member.</summary>
    public static IResult From(RequestException e)
    {
        if (e.Field is null) return Problem(e.Message, e.Status);
        var errors = new Dictionary<string, string[]> { [e.Field] = [e.Message] };
        return e.Status == StatusCodes.Status400BadRequest
            ? TypedResults.ValidationProblem(errors, detail: e.Message)
            : Problem(e.Message, e.Status, new Dictionary<string, object?> { ["errors"] = errors });
    }

    /// <summary>An unexpected failure in the API: logged with its stack trace, answered with a request id only.</summary>
    internal static async Task WriteUnexpectedErrorAsync(HttpContext http)
    {
        var feature = http.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>();
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("EquivarianceLab.Web.Api");
        if (feature?.Error is { } error) logger.LogError(error, "Unhandled error in {Path} (request {RequestId}).", http.Request.Path, http.TraceIdentifier);
        http.Response.StatusCode = StatusCodes.Status500InternalServerError;
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails =
            {
                Status = StatusCodes.Status500InternalServerError,
                Title = "Internal error",
                Detail = $"Internal error; the server log has the details (request {http.TraceIdentifier}).",
            },
        });
    }
}
