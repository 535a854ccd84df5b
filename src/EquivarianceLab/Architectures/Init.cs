using TorchSharp;

namespace EquivarianceLab.Architectures;

internal static class Init
{
    /// <summary>He (Kaiming) normal initialisation of every convolution (fan-out, ReLU), batch norms at weight 1 and bias 0,
    /// as torchvision does for ResNets.</summary>
    public static void KaimingConvolutions(torch.nn.Module module)
    {
        using var _ = torch.no_grad();
        foreach (var (_, m) in module.named_modules())
        {
            switch (m)
            {
                case TorchSharp.Modules.Conv2d conv:
                    torch.nn.init.kaiming_normal_(conv.weight, mode: torch.nn.init.FanInOut.FanOut, nonlinearity: torch.nn.init.NonlinearityType.ReLU);
                    break;
                case TorchSharp.Modules.BatchNorm2d bn:
                    bn.weight?.FillWith(1);
                    bn.bias?.FillWith(0);
                    break;
            }
        }
    }
}
