using System.Text.Json;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Runs.Pages;

namespace EquivarianceLab.Web.Tests.Components;

/// <summary>The run form's layer list, from a model's stored listing.</summary>
public sealed class LayerPickerTests : MudTestBase
{
    private static readonly LayerInfo[] Listing =
    [
        new("lift", [8, 28, 28], "Conv", null, false),
        new("lift_relu", [8, 28, 28], "Relu", "Early", true),
        new("gconv_relu", [8, 28, 28], "Relu", "Middle", true),
        new("group_pool", [2, 28, 28], "ReduceMean", "Late", true),
        new("se_pool", [2, 1, 1], "ReduceMean", null, false),
        new("pool", [2, 1, 1], "GlobalAveragePool", "Pool", true),
        new("logits", [10], "Gemm", "Final", true),
    ];

    private void AddListedModel()
    {
        AddProbeSet();
        AddModel("p4", "P4 CNN", 90);
        using var db = DbFactory.CreateDbContext();
        db.Models.Single(m => m.Id == "p4").LayersJson = JsonSerializer.Serialize(Listing, ApiJson.Options);
        db.SaveChanges();
    }

    /// <summary>The form for the one model; its listing arrives asynchronously (read from the database).</summary>
    private IRenderedComponent<NewMeasurement> Open()
    {
        var cut = RenderAt<NewMeasurement>("measure?models=p4");
        cut.WaitForAssertion(() => Assert.Equal(Listing.Length, cut.FindAll("[data-testid=layer-row]").Count));
        return cut;
    }

    private static List<bool> Ticks(IRenderedComponent<NewMeasurement> cut) =>
        cut.FindAll("[data-testid=layer-row] input[type=checkbox]").Select(i => i.HasAttribute("checked")).ToList();

    [Fact]
    public void The_form_lists_the_models_layers_with_the_default_selection_ticked()
    {
        AddListedModel();
        var cut = Open();

        Assert.Equal(Listing.Select(l => l.Name), cut.FindAll("[data-testid=layer-name]").Select(e => e.TextContent));
        Assert.Equal("8×28×28 · Conv · not in the default", cut.FindAll("[data-testid=layer-facts]")[0].TextContent);
        Assert.Equal("2×28×28 · ReduceMean · Late by default", cut.FindAll("[data-testid=layer-facts]")[3].TextContent);
        Assert.Equal(Listing.Select(l => l.Default), Ticks(cut));
        Assert.Contains("5 of 7 (the default selection)", cut.Find("[data-testid=layer-count]").TextContent);
    }

    [Fact]
    public async Task A_changed_choice_travels_with_the_run_in_forward_order_and_the_default_does_not()
    {
        AddListedModel();
        var cut = Open();

        Tick(cut, 5, false); // pool off
        Tick(cut, 4, true);  // se_pool on
        Tick(cut, 0, true);  // lift on
        cut.WaitForAssertion(() => Assert.Contains("6 of 7 (your choice)", cut.Find("[data-testid=layer-count]").TextContent));
        await cut.Find("[data-testid=queue-button]").ClickAsync(new());

        // Queueing leaves the page; back on it, a change undone with Default sends no choice.
        cut = Open();
        Tick(cut, 1, false);
        cut.Find("[data-testid=layers-default]").Click();
        cut.WaitForAssertion(() => Assert.Equal(Listing.Select(l => l.Default), Ticks(cut)));
        await cut.Find("[data-testid=queue-button]").ClickAsync(new());

        using var db = DbFactory.CreateDbContext();
        var runs = db.Runs.OrderBy(r => r.Id).ToList();
        Assert.Equal("lift\nlift_relu\ngconv_relu\ngroup_pool\nse_pool\nlogits", runs[0].RequestedLayers);
        Assert.Null(runs[0].LogitsLayer);
        Assert.Null(runs[1].RequestedLayers);
    }

    /// <summary>MudBlazor applies a checkbox's change asynchronously: the next change waits until this one shows.</summary>
    private void Tick(IRenderedComponent<NewMeasurement> cut, int row, bool value)
    {
        cut.FindAll("[data-testid=layer-row] input[type=checkbox]")[row].Change(value);
        cut.WaitForAssertion(() => Assert.Equal(value, Ticks(cut)[row]));
    }

    [Fact]
    public void With_no_layer_ticked_nothing_can_be_queued()
    {
        AddListedModel();
        var cut = Open();

        cut.Find("[data-testid=layers-none]").Click();
        cut.WaitForAssertion(() => Assert.All(Ticks(cut), Assert.False));
        Assert.True(cut.Find("[data-testid=queue-button]").HasAttribute("disabled"));
        cut.Find("[data-testid=layers-all]").Click();
        cut.WaitForAssertion(() => Assert.All(Ticks(cut), Assert.True));
        Assert.False(cut.Find("[data-testid=queue-button]").HasAttribute("disabled"));
    }
}
