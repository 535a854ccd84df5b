using System.CommandLine;
using EquivarianceLab.Web.Accounts;

namespace EquivarianceLab.Cli.Commands;

/// <summary><c>eqlab users add NAME [--role member|admin] [--password P]</c>: accounts of a dashboard server.</summary>
public static class UsersCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "User name (letters, digits, - . _ @)." };
        var role = new Option<string>("--role") { Description = "member (default) or admin.", DefaultValueFactory = _ => Roles.Member };
        var password = new Option<string?>("--password") { Description = "Password for signing in to the pages (at least 10 characters); made up and printed when left out." };
        var add = new Command("add", "Make an account in the server's database (read from the server's settings) and print its first API token as the last line.")
        {
            name, role, password,
        };
        add.SetAction(r =>
        {
            var account = UserAdministration.AddAsync(r.GetValue(name)!, r.GetValue(role)!, r.GetValue(password)).GetAwaiter().GetResult();
            Console.Out.WriteLine($"Made {account.Role} '{account.UserName}'.");
            if (account.GeneratedPassword is { } p) Console.Out.WriteLine($"Password: {p}");
            Console.Out.WriteLine("API token (shown once; send it as Authorization: Bearer <token>):");
            Console.Out.WriteLine(account.ApiToken);
            return 0;
        });
        return new Command("users", "Accounts of the dashboard server.") { add };
    }
}
