defmodule PhnElixirCheck.MixProject do
  use Mix.Project

  # The Elixir check of process_hub_native: an ExUnit suite that drives the drop-in
  # `:phn_request_manager` with ProcessHub-named structs, and a small coordinator run
  # across BEAM nodes. The project under test is a plain path dependency: its own mix.exs
  # builds the Erlang modules, the Elixir face and the C (its compile.process_hub_native
  # compiler) into this project's _build; nothing comes from hex.pm. Run it with
  # scripts/elixir-check.sh from the repository root.
  def project do
    [
      app: :phn_elixir_check,
      version: "0.1.0",
      elixir: "~> 1.14",
      elixirc_paths: elixirc_paths(Mix.env()),
      erlc_paths: erlc_paths(),
      start_permanent: false,
      deps: deps()
    ]
  end

  def application, do: [extra_applications: [:logger]]

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_), do: ["lib"]

  # The plain-Erlang oracle (:phn_request_manager_erl) is not part of the shipped app:
  # compiled here from the checkout's test/oracle/ when it lives there (else erl_src/ has it).
  @oracle_dir "../../test/oracle"
  defp erlc_paths, do: if(File.dir?(Path.expand(@oracle_dir, __DIR__)), do: [@oracle_dir], else: [])

  defp deps do
    [{:process_hub_native, path: "../.."}]
  end
end
