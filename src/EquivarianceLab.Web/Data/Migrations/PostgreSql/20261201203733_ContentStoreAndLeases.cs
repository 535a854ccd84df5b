using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EquivarianceLab.Web.Data.Migrations.PostgreSql
{
    /// <inheritdoc />
    public partial class ContentStoreAndLeases : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.RenameColumn(
                name: "FilePath",
                table: "ProbeSets",
                newName: "FileName");

            migrationBuilder.RenameColumn(
                name: "FilePath",
                table: "Models",
                newName: "FileName");

            migrationBuilder.AddColumn<string>(
                name: "Device",
                table: "Runs",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Fence",
                table: "Runs",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<DateTime>(
                name: "LeaseExpiresUtc",
                table: "Runs",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Queue",
                table: "Runs",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "cpu");

            migrationBuilder.AddColumn<string>(
                name: "LegacyPath",
                table: "ProbeSets",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ThumbnailHashes",
                table: "ProbeSets",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "LegacyPath",
                table: "Models",
                type: "text",
                nullable: true);

            // Uploads were recorded by the path of the node that received them. That path is kept as LegacyPath until a
            // node that has the file moves it into the store at start (Storage/LegacyFiles.cs); the zoo and built-in
            // probe sets are registered again from the checkout anyway.
            migrationBuilder.Sql("UPDATE \"Models\" SET \"LegacyPath\" = \"FileName\" WHERE \"Source\" = 'upload'");
            migrationBuilder.Sql("UPDATE \"ProbeSets\" SET \"LegacyPath\" = \"FileName\" WHERE \"Source\" = 'upload'");

            migrationBuilder.CreateIndex(
                name: "IX_Runs_Status_LeaseExpiresUtc",
                table: "Runs",
                columns: new[] { "Status", "LeaseExpiresUtc" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Runs_Status_LeaseExpiresUtc",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "Device",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "Fence",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "LeaseExpiresUtc",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "Queue",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "LegacyPath",
                table: "ProbeSets");

            migrationBuilder.DropColumn(
                name: "ThumbnailHashes",
                table: "ProbeSets");

            migrationBuilder.DropColumn(
                name: "LegacyPath",
                table: "Models");

            migrationBuilder.RenameColumn(
                name: "FileName",
                table: "ProbeSets",
                newName: "FilePath");

            migrationBuilder.RenameColumn(
                name: "FileName",
                table: "Models",
                newName: "FilePath");
        }
    }
}
