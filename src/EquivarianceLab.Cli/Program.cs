using System.CommandLine;
using EquivarianceLab.Cli;
using EquivarianceLab.Cli.Commands;

// The commands that run tensors end without the native libraries' teardown (QuickExit); users and db do not.
Command[] tensorCommands = [MeasureCommand.Create(), BenchCommand.Create(), TrainCommand.Create(), StudyCommand.Create(), EvaluateCommand.Create()];
var root = new RootCommand("eqlab: measure the translation and rotation equivariance a model has learned, layer by layer.");
foreach (var command in tensorCommands) root.Subcommands.Add(command);
root.Subcommands.Add(UsersCommand.Create());
root.Subcommands.Add(DbCommand.Create());
// Our handler, not System.CommandLine's: bad input is one line on stderr, never a stack trace.
var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
ParseResult? parsed = null;
var code = CliErrors.Run(() => (parsed = root.Parse(args)).Invoke(invocation));
if (parsed is not null && tensorCommands.Contains(parsed.CommandResult.Command)) QuickExit.Now(code);
return code;
