namespace EquivarianceLab.Web.Data.Migrations;

/// <summary>
/// Migration <c>RunModelFile</c>'s data step, the same for SQLite and PostgreSQL: every run already in the database
/// takes the hash its model's file has now. Migrations run before a starting node registers its zoo
/// (Startup/LabInitializer.cs), so that is the file of the release the runs were measured with, and a checkpoint the
/// new release replaces shows as changed for them (<see cref="Run.ModelFileChanged"/>).
/// </summary>
internal static class RunModelFileBackfill
{
    public const string Sql = """
        UPDATE "Runs" SET "ModelContentHash" = (SELECT "ContentHash" FROM "Models" WHERE "Models"."Id" = "Runs"."ModelId")
        """;
}
