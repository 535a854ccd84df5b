using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EquivarianceLab.Web.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Uncertainty : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "EquivarianceHigh",
                table: "TransformScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "EquivarianceLow",
                table: "TransformScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "EquivarianceStderr",
                table: "TransformScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "InvarianceHigh",
                table: "TransformScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "InvarianceLow",
                table: "TransformScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "InvarianceStderr",
                table: "TransformScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "LogitsLayer",
                table: "Runs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "RequestedLayers",
                table: "Runs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "EquivarianceHigh",
                table: "PartScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "EquivarianceLow",
                table: "PartScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "EquivarianceStderr",
                table: "PartScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "InvarianceHigh",
                table: "PartScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "InvarianceLow",
                table: "PartScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "InvarianceStderr",
                table: "PartScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "LayersJson",
                table: "Models",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "EquivarianceHigh",
                table: "LayerScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "EquivarianceLow",
                table: "LayerScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "EquivarianceStderr",
                table: "LayerScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "InvarianceHigh",
                table: "LayerScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "InvarianceLow",
                table: "LayerScores",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "InvarianceStderr",
                table: "LayerScores",
                type: "REAL",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "EquivarianceHigh",
                table: "TransformScores");

            migrationBuilder.DropColumn(
                name: "EquivarianceLow",
                table: "TransformScores");

            migrationBuilder.DropColumn(
                name: "EquivarianceStderr",
                table: "TransformScores");

            migrationBuilder.DropColumn(
                name: "InvarianceHigh",
                table: "TransformScores");

            migrationBuilder.DropColumn(
                name: "InvarianceLow",
                table: "TransformScores");

            migrationBuilder.DropColumn(
                name: "InvarianceStderr",
                table: "TransformScores");

            migrationBuilder.DropColumn(
                name: "LogitsLayer",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "RequestedLayers",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "EquivarianceHigh",
                table: "PartScores");

            migrationBuilder.DropColumn(
                name: "EquivarianceLow",
                table: "PartScores");

            migrationBuilder.DropColumn(
                name: "EquivarianceStderr",
                table: "PartScores");

            migrationBuilder.DropColumn(
                name: "InvarianceHigh",
                table: "PartScores");

            migrationBuilder.DropColumn(
                name: "InvarianceLow",
                table: "PartScores");

            migrationBuilder.DropColumn(
                name: "InvarianceStderr",
                table: "PartScores");

            migrationBuilder.DropColumn(
                name: "LayersJson",
                table: "Models");

            migrationBuilder.DropColumn(
                name: "EquivarianceHigh",
                table: "LayerScores");

            migrationBuilder.DropColumn(
                name: "EquivarianceLow",
                table: "LayerScores");

            migrationBuilder.DropColumn(
                name: "EquivarianceStderr",
                table: "LayerScores");

            migrationBuilder.DropColumn(
                name: "InvarianceHigh",
                table: "LayerScores");

            migrationBuilder.DropColumn(
                name: "InvarianceLow",
                table: "LayerScores");

            migrationBuilder.DropColumn(
                name: "InvarianceStderr",
                table: "LayerScores");
        }
    }
}
