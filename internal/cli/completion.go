package cli

import (
	"context"
	"slices"

	"github.com/spf13/cobra"
)

// completionShells are the shells "vendorimg completion" writes scripts
// for, with cobra's generators.
var completionShells = []string{"bash", "zsh", "fish"}

func newCompletionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script for bash, zsh or fish",
		Long: `completion prints a script that teaches bash, zsh or fish to complete
vendorimg's commands and flags, and the REF arguments of load, unload,
remove, update and outdated from the images of vendorimg.yaml.

bash needs the bash-completion package. Load the script in the current shell,
or save it where your shell loads completions from (see the examples).`,
		Example: `  source <(vendorimg completion bash)     # this shell only
  vendorimg completion bash > /etc/bash_completion.d/vendorimg
  vendorimg completion zsh > "${fpath[1]}/_vendorimg"
  vendorimg completion fish > ~/.config/fish/completions/vendorimg.fish`,
		ValidArgs: completionShells,
		Args:      args(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if g.json {
				return usagef("completion prints a shell script, not JSON: drop --json")
			}
			root := cmd.Root()
			switch a[0] {
			case "bash":
				return root.GenBashCompletionV2(g.stdout, true)
			case "zsh":
				return root.GenZshCompletion(g.stdout)
			default: // fish: Args allows nothing else
				return root.GenFishCompletion(g.stdout, true)
			}
		},
	}
}

// refCommands take configured images as their REF arguments.
var refCommands = []string{"load", "unload", "remove", "update", "outdated"}

// setCompletions makes the shells complete REF arguments from
// vendorimg.yaml, folders for -C and the configuration for --config, and
// nothing (not file names) where a command takes no file.
func (g *globals) setCompletions(root *cobra.Command) {
	_ = root.MarkPersistentFlagDirname("dir")
	_ = root.MarkPersistentFlagFilename("config", "yaml", "yml")
	for _, c := range root.Commands() {
		switch {
		case c.ValidArgs != nil || c.ValidArgsFunction != nil:
		case slices.Contains(refCommands, c.Name()):
			c.ValidArgsFunction = g.completeRefs
		default:
			c.ValidArgsFunction = cobra.NoFileCompletions
		}
	}
}

// completeRefs lists the names of the configured images not yet on the
// command line. A missing or broken vendorimg.yaml completes nothing.
func (g *globals) completeRefs(cmd *cobra.Command, given []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := g.loadConfig(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []cobra.Completion
	for _, im := range cfg.Images {
		if name := im.Name(); !slices.Contains(given, name) {
			names = append(names, name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
