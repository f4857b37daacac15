# Passed to a local PowerShell with -EncodedCommand. Reads the script to run (base64 of UTF-8) and its
# one argument from the first two lines of stdin, so that neither appears on a command line, where
# lengths are limited and process lists show them. Windows PowerShell 5.1 compatible.
$ErrorActionPreference = 'Stop'
$scriptText = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String([Console]::In.ReadLine()))
$argumentLine = [Console]::In.ReadLine()
& ([scriptblock]::Create($scriptText)) $argumentLine
