using Microsoft.Playwright;

namespace EquivarianceLab.E2E.Infrastructure;

/// <summary>Debian's Chromium driven by Playwright: never a downloaded browser (no internet here, nor in many labs).</summary>
public static class Chromium
{
    public const string ExecutablePath = "/usr/bin/chromium";

    public static readonly string[] Args =
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        await EnsureInstalledAsync();
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ExecutablePath,
                Args = Args,
                Headless = true,
                Timeout = 60_000,
            });
            return (playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The README's test command must pass on a fresh Debian machine with only the SDK: Debian's Chromium, never a
    /// Playwright browser download (<see cref="DebianPackages"/>).
    /// </summary>
    private static Task EnsureInstalledAsync() =>
        DebianPackages.EnsureAsync("chromium", () => File.Exists(ExecutablePath), $"The browser tests need Debian's Chromium at {ExecutablePath}");

    /// <summary>A fresh context (no cookies, storage or history shared with any other), with clipboard access for "Copy link".</summary>
    public static async Task<IBrowserContext> NewContextAsync(IBrowser browser, Uri baseUri)
    {
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUri.ToString(),
            ViewportSize = new ViewportSize { Width = 1440, Height = 1000 },
            AcceptDownloads = true,
            Locale = "en-GB",
        });
        await context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"], new BrowserContextGrantPermissionsOptions { Origin = baseUri.GetLeftPart(UriPartial.Authority) });
        context.SetDefaultTimeout(30_000);
        return context;
    }

    /// <summary>
    /// Opens a page and waits until Blazor's circuit is up (the layout renders a marker after its first interactive
    /// render): input given to the prerendered page would be lost when the interactive render replaces it.
    /// </summary>
    public static async Task<IPage> OpenAsync(this IPage page, string relative)
    {
        await page.GotoAsync(relative);
        await page.WaitForInteractiveAsync();
        return page;
    }

    public static async Task WaitForInteractiveAsync(this IPage page) =>
        await page.Locator("[data-testid=circuit-ready]").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached });

    /// <summary>A full-page PNG under TestResults/screenshots, named for the step.</summary>
    public static async Task ShotAsync(this IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Repo.Screenshots, name + ".png"), FullPage = true });
}

/// <summary>Keeps what a failing browser test saw: a screenshot and the page's HTML under TestResults/screenshots/failures.</summary>
public static class FailureArtifacts
{
    public static async Task RunAsync(IPage page, string name, Func<Task> body)
    {
        try
        {
            await body();
        }
        catch
        {
            var folder = Directory.CreateDirectory(Path.Combine(Repo.Screenshots, "failures")).FullName;
            try
            {
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name + ".png"), FullPage = true });
                await File.WriteAllTextAsync(Path.Combine(folder, name + ".html"), await page.ContentAsync());
            }
            catch (PlaywrightException) { }
            throw;
        }
    }
}
