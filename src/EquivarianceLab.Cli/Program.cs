using System.CommandLine;
using EquivarianceLab.Cli;
using EquivarianceLab.Cli.Commands;

var root = new RootCommand("eqlab: measure the translation and rotation equivariance a model has learned, layer by layer.")
{
    MeasureCommand.Create(),
    BenchCommand.Create(),
    TrainCommand.Create(),
    StudyCommand.Create(),
    EvaluateCommand.Create(),
    UsersCommand.Create(),
    DbCommand.Create(),
};
// Our handler, not System.CommandLine's: bad input is one line on stderr, never a stack trace.
var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
ParseResult? parsed = null;
var code = CliErrors.Run(() => (parsed = root.Parse(args)).Invoke(invocation));
if (parsed is not null && QuickExit.Applies(parsed.CommandResult.Command)) QuickExit.Now(code);
return code;
