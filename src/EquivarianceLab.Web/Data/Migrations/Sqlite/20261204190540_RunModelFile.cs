using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EquivarianceLab.Web.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class RunModelFile : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ModelContentHash",
                table: "Runs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.Sql(RunModelFileBackfill.Sql);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "ModelContentHash",
                table: "Runs");
        }
    }
}
