"""Who is calling: principals, roles and what each may see."""
