using System.CommandLine;
using EquivarianceLab.Cli;
using EquivarianceLab.Cli.Commands;

var root = new RootCommand("eqlab: measure the translation and rotation equivariance a model has learned, layer by layer.")
{
    MeasureCommand.Create(),
    BenchCommand.Create(),
    TrainCommand.Create(),
};
return CliErrors.Run(() => root.Parse(args).Invoke());
