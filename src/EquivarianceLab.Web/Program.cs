using EquivarianceLab.Web;
using EquivarianceLab.Web.Workers;
using Microsoft.Extensions.Options;

// The same program opens uploads and measures in child processes that the OS bounds (see WorkerProcess).
if (args is [WorkerHost.Argument]) return WorkerHost.Run(Console.OpenStandardInput(), Console.OpenStandardOutput());

try
{
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = ContentRoot.Find(args) });
    // Serves MudBlazor's and the top-level wwwroot's files from a plain build in any environment (a publish has them in place).
    builder.WebHost.UseStaticWebAssets();
    builder.AddEquivarianceLab();

    var app = builder.Build();
    app.UseEquivarianceLab();
    await app.RunAsync();
}
catch (OptionsValidationException e)
{
    // A wrong setting: one line per problem, naming its key, and no stack trace.
    foreach (var failure in e.Failures) Console.Error.WriteLine($"equivariancelab: {failure}");
    return 2;
}
return 0;

/// <summary>Visible to the integration tests' WebApplicationFactory.</summary>
public partial class Program;
