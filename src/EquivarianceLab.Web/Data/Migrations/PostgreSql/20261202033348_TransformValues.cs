using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EquivarianceLab.Web.Data.Migrations.PostgreSql
{
    /// <inheritdoc />
    public partial class TransformValues : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "TransformValues",
                table: "Runs",
                type: "text",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "TransformValues",
                table: "Runs");
        }
    }
}
