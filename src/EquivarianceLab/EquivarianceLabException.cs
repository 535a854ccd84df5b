namespace EquivarianceLab;

/// <summary>
/// A problem with the user's input (a model, probe set, option or layer name) that has a clear, specific
/// message. The command line prints only the message; the web app shows it as the job's error.
/// </summary>
public sealed class EquivarianceLabException(string message, Exception? inner = null) : Exception(message, inner);
