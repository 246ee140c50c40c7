defmodule PhnElixirCheck.MixProject do
  use Mix.Project

  # The Elixir check of process_hub_native: an ExUnit suite that drives the drop-in
  # `:phn_request_manager` with ProcessHub-named structs, and a small coordinator run
  # across BEAM nodes. The project under test is a rebar3 project, built by mix through
  # Debian's rebar3 (MIX_REBAR3=/usr/bin/rebar3), C included (its pre_hooks); nothing
  # comes from hex.pm. Run it with scripts/elixir-check.sh from the repository root.
  def project do
    [
      app: :phn_elixir_check,
      version: "0.1.0",
      elixir: "~> 1.14",
      elixirc_paths: elixirc_paths(Mix.env()),
      start_permanent: false,
      deps: deps()
    ]
  end

  def application, do: [extra_applications: [:logger]]

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_), do: ["lib"]

  defp deps do
    [{:process_hub_native, path: "../..", manager: :rebar3}]
  end
end
