from deskterm.cli import main

main()
