# Checks the Windows side of an NVFlare WSL site: WSL installed, a WSL 2 distribution, and an
# NVIDIA GPU with its Windows driver (which brings GPU support into WSL).
# Run in PowerShell:  powershell -ExecutionPolicy Bypass -File check-windows.ps1
$ErrorActionPreference = 'Continue'
$script:allGood = $true

function Report([string]$Check, [bool]$Passed, [string]$Fix) {
    if ($Passed) {
        Write-Host ("OK   {0}" -f $Check)
    } else {
        Write-Host ("FIX  {0}: {1}" -f $Check, $Fix)
        $script:allGood = $false
    }
}

$wsl = Get-Command wsl.exe -ErrorAction SilentlyContinue
Report 'WSL is installed' ($null -ne $wsl) 'run "wsl --install -d Ubuntu" as administrator, then restart Windows'

if ($null -ne $wsl) {
    # wsl.exe writes UTF-16; drop the NUL characters before matching.
    $lines = (& wsl.exe --list --verbose) | ForEach-Object { $_ -replace "`0", '' }
    $wsl2 = @($lines | Where-Object { $_ -match '\s2\s*$' })
    Report 'a WSL 2 distribution exists' ($wsl2.Count -gt 0) 'run "wsl --set-version Ubuntu 2" (GPUs work only in WSL 2)'
    foreach ($line in $wsl2) { Write-Host ("     {0}" -f $line.Trim()) }
}

$gpus = @(Get-CimInstance Win32_VideoController | Where-Object { $_.Name -like '*NVIDIA*' })
Report 'an NVIDIA GPU with a Windows driver' ($gpus.Count -gt 0) 'install the current NVIDIA driver for Windows; do not install a Linux driver inside WSL'
foreach ($gpu in $gpus) { Write-Host ("     {0}, driver {1}" -f $gpu.Name, $gpu.DriverVersion) }

if ($script:allGood) {
    Write-Host 'Windows side ready. In WSL (Ubuntu), run: bash flare-site.sh setup'
    exit 0
}
exit 1
