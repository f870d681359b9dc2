"""From approval to a serving endpoint: the approval hook, the deploy pipeline, and the roles and policies
that let it deploy endpoint stacks in the team's own or target accounts."""
