using EquivarianceLab.Web;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = ContentRoot.Find(args) });
// Serves MudBlazor's and the top-level wwwroot's files from a plain build in any environment (a publish has them in place).
builder.WebHost.UseStaticWebAssets();
builder.AddEquivarianceLab();

var app = builder.Build();
app.UseEquivarianceLab();
await app.RunAsync();

/// <summary>Visible to the integration tests' WebApplicationFactory.</summary>
public partial class Program;
